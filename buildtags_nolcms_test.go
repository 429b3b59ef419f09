//go:build nolcms

package main

func init() { buildTags = append(buildTags, "nolcms") }
