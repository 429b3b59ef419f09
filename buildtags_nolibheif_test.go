//go:build nolibheif

package main

func init() { buildTags = append(buildTags, "nolibheif") }
