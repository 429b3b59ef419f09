module animegan/bench/webpenc

go 1.26.0

require (
	animegan v0.0.0
	github.com/HugoSmits86/nativewebp v0.9.3
	github.com/gen2brain/webp v0.5.5
)

require (
	github.com/ebitengine/purego v0.11.2 // indirect
	github.com/tetratelabs/wazero v1.9.0 // indirect
	golang.org/x/image v0.48.0 // indirect
)

replace animegan => ../..
