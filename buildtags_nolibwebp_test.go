//go:build nolibwebp

package main

func init() { buildTags = append(buildTags, "nolibwebp") }
