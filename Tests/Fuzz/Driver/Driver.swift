#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry point (compiler-rt, linked by `-sanitize=fuzzer`). SwiftPM gives
/// every executable its own `main`, so the fuzz targets call the driver themselves
/// instead of using libFuzzer's. Pointer and integer arguments pass the same way under
/// the Swift and C calling conventions on x86-64 and AArch64.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Runs libFuzzer on `body` with the process's arguments (corpus folders, -max_total_time, …).
public func runFuzzer(_ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, body))
}

/// Stops the run with a finding: libFuzzer saves the input that caused it.
public func finding(_ message: String) -> Never {
    fputs("prpkit fuzz finding: \(message)\n", stderr)
    abort()
}
