// swift-tools-version:6.0
// A Swift package that uses prpkit's core as a library (the product PRPKit): a forward
// pass and a PRP heatmap of a model file. Built and run by scripts/test_swift_example.sh.
//
// By path, as here, or by URL with a branch or revision (SwiftPM accepts the core's
// per-target compiler flags, `-march` for the kernels, from those but not from a
// version tag):
//   .package(url: "<prpkit's repository>", branch: "main")
import PackageDescription

let package = Package(
    name: "prpkit-swift-example",
    dependencies: [
        .package(name: "prpkit", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "prp-example",
            dependencies: [.product(name: "PRPKit", package: "prpkit")],
            path: "Sources/prp-example"
        ),
    ]
)
