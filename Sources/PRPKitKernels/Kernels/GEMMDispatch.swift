import _PRPKitCPU
import _PRPKitKernelsBase
import _PRPKitKernelsV3
import _PRPKitKernelsV4

/// The packing and register-tile kernels of one ISA level. The same Swift source
/// (Sources/_PRPKitKernelsV4/GEMMMicroKernel.swift) is compiled for x86-64-v4, x86-64-v3
/// and the baseline; `GEMMKernelSet.current` picks the best one the CPU runs.
package struct GEMMKernelSet {
    package typealias PackA = (UnsafePointer<Float>, Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    package typealias PackB = (UnsafePointer<Float>, Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    package typealias PackConvB = (UnsafePointer<Float>, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int,
                           Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    package typealias Macro = (Int, Int, Int, UnsafePointer<Float>, UnsafePointer<Float>,
                       UnsafeMutablePointer<Float>, Int, Int, Bool,
                       UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void
    package typealias DotRows = (UnsafePointer<Float>, Int, Range<Int>, UnsafePointer<Float>, Int, Int,
                         UnsafeMutablePointer<Float>, Int, UnsafePointer<Float>?) -> Void
    package typealias WinogradIn = (Int, UnsafePointer<Float>, Int, Int, UnsafePointer<Int>, Int, Range<Int>, Int,
                            Int, Int, Int, Bool, UnsafeMutablePointer<Float>, Int) -> Void
    package typealias WinogradOut = (Int, UnsafePointer<Float>, Int, Int, Range<Int>, UnsafeMutablePointer<Float>, Int, Int,
                             UnsafePointer<Int>, Int, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?,
                             Bool) -> Void

    /// 2 = x86-64-v4, 1 = x86-64-v3, 0 = baseline (as `prpkit_cpu_isa_level`).
    package let level: Int
    /// Register tile: mr rows × nr columns.
    package let mr: Int
    package let nr: Int
    package let packA: PackA
    package let packB: PackB
    package let packConvB: PackConvB
    package let macroKernel: Macro
    package let dotRows: DotRows
    /// Winograd F(m×m, 3×3) input and output transforms of 16 tiles (WinogradTransforms.swift).
    package let winogradInput: WinogradIn
    package let winogradOutput: WinogradOut
    package let winogradOutputChannels: WinogradOut

    static package let v4 = GEMMKernelSet(
        level: 2, mr: _PRPKitKernelsV4.ISAKernels.mr, nr: _PRPKitKernelsV4.ISAKernels.nr,
        packA: _PRPKitKernelsV4.ISAKernels.packA, packB: _PRPKitKernelsV4.ISAKernels.packB,
        packConvB: _PRPKitKernelsV4.ISAKernels.packConvB,
        macroKernel: _PRPKitKernelsV4.ISAKernels.macroKernel, dotRows: _PRPKitKernelsV4.ISAKernels.dotRows,
        winogradInput: _PRPKitKernelsV4.ISAKernels.winogradInput, winogradOutput: _PRPKitKernelsV4.ISAKernels.winogradOutput,
        winogradOutputChannels: _PRPKitKernelsV4.ISAKernels.winogradOutputChannels)
    static package let v3 = GEMMKernelSet(
        level: 1, mr: _PRPKitKernelsV3.ISAKernels.mr, nr: _PRPKitKernelsV3.ISAKernels.nr,
        packA: _PRPKitKernelsV3.ISAKernels.packA, packB: _PRPKitKernelsV3.ISAKernels.packB,
        packConvB: _PRPKitKernelsV3.ISAKernels.packConvB,
        macroKernel: _PRPKitKernelsV3.ISAKernels.macroKernel, dotRows: _PRPKitKernelsV3.ISAKernels.dotRows,
        winogradInput: _PRPKitKernelsV3.ISAKernels.winogradInput, winogradOutput: _PRPKitKernelsV3.ISAKernels.winogradOutput,
        winogradOutputChannels: _PRPKitKernelsV3.ISAKernels.winogradOutputChannels)
    static package let base = GEMMKernelSet(
        level: 0, mr: _PRPKitKernelsBase.ISAKernels.mr, nr: _PRPKitKernelsBase.ISAKernels.nr,
        packA: _PRPKitKernelsBase.ISAKernels.packA, packB: _PRPKitKernelsBase.ISAKernels.packB,
        packConvB: _PRPKitKernelsBase.ISAKernels.packConvB,
        macroKernel: _PRPKitKernelsBase.ISAKernels.macroKernel, dotRows: _PRPKitKernelsBase.ISAKernels.dotRows,
        winogradInput: _PRPKitKernelsBase.ISAKernels.winogradInput, winogradOutput: _PRPKitKernelsBase.ISAKernels.winogradOutput,
        winogradOutputChannels: _PRPKitKernelsBase.ISAKernels.winogradOutputChannels)

    /// ISA level of this CPU, capped by the environment variable `PRPKIT_ISA_LEVEL` (0, 1, 2)
    /// when set.
    static package let detectedLevel: Int = {
        var level = Int(prpkit_cpu_isa_level())
        if let env = getenv("PRPKIT_ISA_LEVEL"), let cap = Int(String(cString: env)), cap >= 0 {
            level = min(level, cap)
        }
        return level
    }()

    /// Forces an ISA level (tests); nil = the detected one. Levels above the CPU's are capped.
    nonisolated(unsafe) static package var forcedLevel: Int? = nil

    static package var current: GEMMKernelSet {
        let level = forcedLevel.map { min($0, Int(prpkit_cpu_isa_level())) } ?? detectedLevel
        switch level {
        case 2...: return v4
        case 1: return v3
        default: return base
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    /// ISA level of the GEMM/convolution kernels in use: 2 = x86-64-v4 (AVX-512),
    /// 1 = x86-64-v3 (AVX2 + FMA), 0 = baseline. Capped by `PRPKIT_ISA_LEVEL` when set.
    public static var gemmISALevel: Int { GEMMKernelSet.current.level }
}
