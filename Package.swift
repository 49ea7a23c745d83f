// swift-tools-version:6.0
// prpkit: Prototype Relevance Propagation and composite LRP, natively.
//
// Layers (each sees only the ones below it; SwiftPM targets, so the compiler keeps them):
//   PRPKitKernels  Support, Tensor, Kernels (with the per-ISA micro-kernel targets)
//   PRPKitGraph    Graph, ModelFile
//   PRPKit         Rules, Composites, Explain; re-exports the two below (the library product)
//   PRPKitCABI     every @_cdecl export; built as libprpkit.so (product `prpkit`)
// The command-line tools (prpkit-run, prpkit-bench) are the package in cli/, so that
// building the library resolves no dependency.
import Foundation
import PackageDescription

// The shared library's SONAME carries its ABI version: libprpkit.so.MAJOR, and
// libprpkit.so.0.MINOR while MAJOR is 0 (a 0.x minor release may change the ABI). The
// numbers come from include/prpkit.h, the one place the version is written.
let abiVersion: String = {
    let path = Context.packageDirectory + "/include/prpkit.h"
    let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
    func number(_ part: String) -> String? {
        let prefix = "#define PRPKIT_VERSION_" + part + " "
        for line in lines where line.hasPrefix(prefix) {
            return String(line.dropFirst(prefix.count))
        }
        return nil
    }
    guard let major = number("MAJOR"), let minor = number("MINOR") else {
        fatalError("\(path): no PRPKIT_VERSION_MAJOR / PRPKIT_VERSION_MINOR")
    }
    return major == "0" ? "0.\(minor)" : major
}()

// Kernels are compiled once per ISA level and picked at run time (see Kernels/Dispatch).
// `-Xcc -march=…` is what makes Swift's SIMD types emit zmm/ymm FMAs.
func isaTarget(_ name: String, march: String?) -> Target {
    .target(
        name: name,
        dependencies: ["_PRPKitCPU"],
        path: "Sources/\(name)",
        swiftSettings: [.unsafeFlags(["-O"] + (march.map { ["-Xcc", "-march=\($0)"] } ?? []))]
    )
}

// Across the core's layer targets, small helpers that take closures (Kernels.map, the
// Parallel loops) must still inline into their callers' loops: whole cross-module
// optimisation makes the lower layers' bodies available to the upper ones.
let coreSettings: [SwiftSetting] = [.unsafeFlags(["-O", "-cross-module-optimization"])]

let package = Package(
    name: "prpkit",
    products: [
        .library(name: "PRPKit", targets: ["PRPKit"]),
        .library(name: "prpkit", type: .dynamic, targets: ["PRPKitCABI"]),
    ],
    targets: [
        .target(name: "_PRPKitCPU", path: "Sources/_PRPKitCPU"),
        // The version macros of include/prpkit.h, for Swift.
        .target(name: "_PRPKitVersion", path: "Sources/_PRPKitVersion"),
        // include/prpkit.h as a Clang module (its real struct layouts, for Swift callers).
        .target(name: "CPRPKit", path: "Sources/CPRPKit"),
        isaTarget("_PRPKitKernelsV4", march: "x86-64-v4"),
        isaTarget("_PRPKitKernelsV3", march: "x86-64-v3"),
        isaTarget("_PRPKitKernelsBase", march: nil),
        // The core's layers, one target each, so that the compiler keeps the layering:
        // a layer sees only the ones below it (`package` declarations are the seams).
        .target(
            name: "PRPKitKernels",
            dependencies: ["_PRPKitCPU", "_PRPKitVersion", "_PRPKitKernelsV4", "_PRPKitKernelsV3", "_PRPKitKernelsBase"],
            path: "Sources/PRPKitKernels",
            swiftSettings: coreSettings
        ),
        .target(name: "PRPKitGraph", dependencies: ["PRPKitKernels"], path: "Sources/PRPKitGraph", swiftSettings: coreSettings),
        .target(name: "PRPKit", dependencies: ["PRPKitGraph"], path: "Sources/PRPKit", swiftSettings: coreSettings),
        .target(
            name: "PRPKitCABI",
            // CPRPKit: the header's own struct layouts and constants (no copies here).
            dependencies: ["CPRPKit", "PRPKit"],
            path: "Sources/PRPKitCABI",
            exclude: ["exports.map"],
            linkerSettings: [
                .linkedLibrary("m"),
                // exports.map (only prpkit_* exported) is applied by scripts/build_lib.sh to
                // the shared library alone: as a target setting it would also reach every
                // executable linking this target (tests, fuzzers) and hide the sanitizers'
                // interceptors there.
                .unsafeFlags(["-Xlinker", "-soname=libprpkit.so.\(abiVersion)"]),
            ]
        ),
        .testTarget(
            name: "PRPKitTests",
            dependencies: ["PRPKit"],
            path: "Tests/PRPKitTests",
            // Read through #filePath by the tests, not bundled as resources.
            exclude: ["Fixtures"]
        ),
        // The C ABI called through include/prpkit.h (not through PRPKitCABI's Swift
        // declarations), so a header and an implementation that disagree fail here.
        .testTarget(
            name: "PRPKitCABITests",
            dependencies: ["CPRPKit", "PRPKitCABI", "PRPKit"],
            path: "Tests/PRPKitCABITests"
        ),
    ],
    // Kernels share raw pointers across worker threads by design (each chunk writes
    // disjoint memory); Swift 6's strict Sendable checking cannot express that.
    swiftLanguageModes: [.v5]
)

// Coverage-guided fuzz targets (Tests/Fuzz, scripts/fuzz.sh), declared only when
// PRPKIT_FUZZ=1: they are built with `-sanitize=fuzzer,address`, which instruments every
// Swift target (libFuzzer's `main` is not available in an ordinary build).
if Context.environment["PRPKIT_FUZZ"] == "1" {
    package.targets.append(.target(name: "prpkit-fuzz-Driver", path: "Tests/Fuzz/Driver"))
    for name in ["ModelLoad", "ExplainerConfig"] {
        package.targets.append(.executableTarget(
            name: "prpkit-fuzz-\(name)", dependencies: ["PRPKit", "PRPKitCABI", "prpkit-fuzz-Driver"],
            path: "Tests/Fuzz/\(name)"))
    }
}

