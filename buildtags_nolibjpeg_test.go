//go:build nolibjpeg

package main

func init() { buildTags = append(buildTags, "nolibjpeg") }
