// swift-tools-version:6.0
// prpkit's Swift command-line tools, a package of their own so that the library
// (the root package) builds without swift-argument-parser:
//   prpkit-run     forward passes and PRP relevance of model files, for harnesses
//   prpkit-bench   kernel benchmarks (bench/conv_vs_torch.py drives it)
import PackageDescription

let package = Package(
    name: "prpkit-cli",
    products: [
        .executable(name: "prpkit-run", targets: ["prpkit-run"]),
        .executable(name: "prpkit-bench", targets: ["prpkit-bench"]),
    ],
    dependencies: [
        .package(name: "prpkit", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "prpkit-run",
            dependencies: [.product(name: "PRPKit", package: "prpkit"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/prpkit-run"
        ),
        .executableTarget(
            name: "prpkit-bench",
            dependencies: [.product(name: "PRPKit", package: "prpkit"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/prpkit-bench",
            swiftSettings: [.unsafeFlags(["-O"])]
        ),
    ],
    swiftLanguageModes: [.v5]
)
