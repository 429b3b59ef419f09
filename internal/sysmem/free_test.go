package sysmem

import "runtime/debug"

// debugFree returns freed heap to the OS so RSS drops.
func debugFree() { debug.FreeOSMemory() }
