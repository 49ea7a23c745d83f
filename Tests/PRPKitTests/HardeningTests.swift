import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Hostile model files and shapes: every case is a thrown error with a message, within
/// bounded time and memory — never a trap (the C-level matrix is Tests/CABI).
final class HardeningTests: XCTestCase {
    /// A model file image of `graph` (JSON text) and `tensors`.
    func model(_ graph: String, tensors: [(String, Tensor)] = []) -> [UInt8] {
        SafeTensors.encode(tensors, metadata: ["format": "prpkit", "format_version": "1", "graph": graph])
    }

    func load(_ bytes: [UInt8]) throws -> Graph { try bytes.withUnsafeBytes { try ModelFile.load(bytes: $0) } }

    /// Loading fails with `.invalidModel` whose message holds `fragment`.
    func assertInvalidModel(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(bytes), file: file, line: line) { error in
            guard case PRPKitError.invalidModel(let m) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(m.contains(fragment), "'\(m)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    func graph(input: [Int], _ node: String) -> String {
        #"{"inputs":[{"name":"x","shape":\#(input)}],"nodes":[\#(node)],"outputs":["y"]}"#
    }

    func testShapeMath() throws {
        XCTAssertEqual(ShapeMath.product([2, 3, 4]), 24)
        XCTAssertEqual(ShapeMath.product([]), 1)
        XCTAssertEqual(ShapeMath.product([5, 0, 7]), 0)
        XCTAssertNil(ShapeMath.product([1 << 31, 1 << 31]))         // > limit
        XCTAssertNil(ShapeMath.product([Int.max, 2]))                // overflows Int
        XCTAssertNil(ShapeMath.product([0, 1 << 40, 1 << 40]))       // hostile even with a zero
        XCTAssertNil(ShapeMath.product([-1, 4]))
        XCTAssertEqual(ShapeMath.product([ShapeMath.maxElements]), ShapeMath.maxElements)
        XCTAssertThrowsError(try ShapeMath.count([1 << 20, 1 << 20], "relevance")) { e in
            XCTAssertTrue("\(e)".contains("relevance of shape [1048576, 1048576] has more than 2147483647 elements"), "\(e)")
        }
        XCTAssertThrowsError(try ShapeMath.sum(Int.max, 1, "concat"))
    }

    /// Products of extents at load used to trap (SIGILL) in shape inference.
    func testOverflowingDeclaredShapesAreInvalidModels() {
        assertInvalidModel(model(graph(input: [1, 3, 1 << 31, 1 << 31],
                                       #"{"name":"y","op":"flatten","inputs":["x"],"attributes":{"start_dim":1,"end_dim":-1}}"#)),
                           "input 'x' of shape [1, 3, 2147483648, 2147483648] has more than 2147483647 elements")
        assertInvalidModel(model(graph(input: [1, 1 << 31, 1 << 31, 1 << 31],
                                       #"{"name":"y","op":"reshape","inputs":["x"],"attributes":{"shape":[-1]}}"#)),
                           "has more than 2147483647 elements")
        // A 2^24-channel input pooled to 2^20 × 2^20: the output's count overflows Int.
        assertInvalidModel(model(graph(input: [1, 1 << 24, 1, 1],
                                       #"{"name":"y","op":"adaptive_avg_pool2d","inputs":["x"],"attributes":{"output_size":[1048576,1048576]}}"#)),
                           "node 'y' output of shape [1, 16777216, 1048576, 1048576] has more than")
        // Reshape targets whose product overflows, and a too-long target.
        assertInvalidModel(model(graph(input: [1, 4],
                                       #"{"name":"y","op":"reshape","inputs":["x"],"attributes":{"shape":[1099511627776,1099511627776,-1]}}"#)),
                           "reshape target [1099511627776, 1099511627776, -1] has more than")
        assertInvalidModel(model(graph(input: [1, 4],
                                       #"{"name":"y","op":"reshape","inputs":["x"],"attributes":{"shape":[1,1,1,1,1,1,1,4]}}"#)),
                           "attribute 'shape' has more than 7 entries")
    }

    /// A shape check that fails at load is the model's fault: INVALID_MODEL, as documented.
    func testLoadTimeShapeFailureIsInvalidModel() {
        assertInvalidModel(model(graph(input: [1, 1, 2, 2],
                                       #"{"name":"y","op":"max_pool2d","inputs":["x"],"attributes":{"kernel":[3,3],"stride":[1,1],"padding":[0,0],"dilation":[1,1],"ceil_mode":false}}"#)),
                           "for the declared input shapes: node 'y': max_pool2d gives an empty output")
    }

    /// At run time (the caller's shapes) the same limit is an invalid argument.
    func testRunTimeShapeQueryOverflowIsAnError() throws {
        let g = try load(model(graph(input: [1, 1, 1, 1],
                                     #"{"name":"y","op":"adaptive_avg_pool2d","inputs":["x"],"attributes":{"output_size":[32768,32768]}}"#)))
        XCTAssertThrowsError(try g.inferShapes([[1, 1 << 24, 1, 1]])) { e in
            guard case PRPKitError.invalidArgument(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("node 'y' output of shape [1, 16777216, 32768, 32768] has more than"), m)
        }
        XCTAssertThrowsError(try g.forward([Tensor(zeros: [1, 1 << 12, 1, 1])]))
    }

    /// K relevance rows per example of a huge activation: refused before any allocation.
    func testPropagateBoundsEverySignal() throws {
        let g = try load(model(graph(input: [1, 4], #"{"name":"y","op":"relu","inputs":["x"]}"#)))
        let lrp = try LRP(graph: g)
        let x = Tensor(zeros: [1, 4])
        // 2^29 rows × 4 = 2^31 floats: one more than the limit.
        let start = Tensor(borrowing: x.data, shape: [1 << 29, 4])
        XCTAssertThrowsError(try lrp.propagate([x], start: start)) { e in
            XCTAssertTrue("\(e)".contains("relevance signal at 'x' of shape [536870912, 4] has more than"), "\(e)")
        }
    }

    func testJSONMemoryBudget() throws {
        // A long array of one-digit numbers would take 12× its text as a tree.
        let numbers = "[" + Array(repeating: "0", count: 200_000).joined(separator: ",") + "]"
        XCTAssertThrowsError(try JSONParser.parse(numbers)) { e in
            XCTAssertTrue("\(e)".contains("would take more than 8× its size in memory"), "\(e)")
        }
        // Ordinary documents, small or large, are far from the budget.
        XCTAssertEqual(try JSONParser.parse("[1,2,3]"), .array([.number(1), .number(2), .number(3)]))
        let names = "[" + (0..<50_000).map { "\"features.\($0).weight\"" }.joined(separator: ",") + "]"
        guard case .array(let items) = try JSONParser.parse(names) else { return XCTFail() }
        XCTAssertEqual(items.count, 50_000)
        // Objects beyond the small-object key scan still reject duplicates.
        let keys = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        XCTAssertThrowsError(try JSONParser.parse("{\(keys),\"k7\":0}")) { e in
            XCTAssertTrue("\(e)".contains("duplicate key 'k7'"), "\(e)")
        }
    }

    /// Rank limits; the tensor and node counts (262 144, 65 536) and the memory and time
    /// bounds are checked on multi-megabyte headers by Tests/CABI/loader_limits.c.
    func testRankLimitsAndTruncatedGraphs() {
        assertInvalidModel(model(graph(input: [1, 1, 1, 1, 1, 1, 1, 1, 1], #"{"name":"y","op":"relu","inputs":["x"]}"#)),
                           "graph.inputs[0].shape: more than 8 dimensions")
        let header = Array(#"{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}"#.utf8)
        let file = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) } + header + [0, 0, 0, 0]
        assertInvalidModel(file, "shape has more than 8 dimensions")
        let truncated = Array(#"{"inputs":[{"name":"x","shape":[1,4]}],"nodes":[],"outputs":["x"],"#.utf8)
        XCTAssertThrowsError(try truncated.withUnsafeBytes { try GraphJSON.decodeParts($0) })
    }

    /// 4096 nodes all reading the input load in topological (file) order; the sort was
    /// quadratic in the number of ready nodes (65 536 such nodes: Tests/CABI/loader_limits.c).
    func testWideGraphLoadsInOrder() throws {
        let n = 4096
        let nodes = (0..<n).map { #"{"name":"n\#($0)","op":"relu","inputs":["x"]}"# }
        let g = try load(model(#"{"inputs":[{"name":"x","shape":[1,4]}],"nodes":[\#(nodes.joined(separator: ","))],"outputs":["n\#(n - 1)"]}"#))
        XCTAssertEqual(g.nodes.map(\.name), (0..<n).map { "n\($0)" })
    }

    func testMinHeapOrder() {
        var heap = MinHeap([1, 4, 9])
        for x in [7, 0, 3, 8, 2] { heap.push(x) }
        var out: [Int] = []
        while let x = heap.pop() { out.append(x) }
        XCTAssertEqual(out, [0, 1, 2, 3, 4, 7, 8, 9])
    }

    /// Small tensors take whole cache lines, not pages: a file of many tiny tensors must
    /// not need 100× its size.
    func testSmallTensorsAreNotPageSized() {
        XCTAssertEqual(TensorPool.capacity(1), 16)
        XCTAssertEqual(TensorPool.capacity(17), 32)
        XCTAssertEqual(TensorPool.capacity(TensorPool.minimumFloats), TensorPool.minimumFloats)
        XCTAssertEqual(TensorPool.capacity(TensorPool.minimumFloats + 1), TensorPool.minimumFloats + 1024)
    }

    // MARK: files

    var directory: String = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "prpkit-hardening-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func tinyGraph() throws -> Graph { try load(model(graph(input: [1, 4], #"{"name":"y","op":"relu","inputs":["x"]}"#))) }

    func ioError(_ body: () throws -> Void, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard case PRPKitError.io(let m) = e else { return XCTFail("\(e)", file: file, line: line) }
            XCTAssertTrue(m.contains(fragment), "'\(m)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    /// Saving through a symlink replaces the file it names and keeps the link.
    func testSaveWritesThroughSymlinks() throws {
        let g = try tinyGraph()
        let target = directory + "/real.prpk", link = directory + "/link.prpk"
        FileManager.default.createFile(atPath: target, contents: Data([1, 2, 3]), attributes: [.posixPermissions: 0o600])
        XCTAssertEqual(symlink("real.prpk", link), 0)  // relative link
        try ModelFile.save(g, path: link)
        var info = stat()
        XCTAssertEqual(lstat(link, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK, "the link stays a link")
        XCTAssertEqual(lstat(target, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600, "the target keeps its permissions")
        XCTAssertEqual(FileManager.default.contents(atPath: target).map { [UInt8]($0) }, ModelFile.encode(g))
        // A dangling link creates the file it names.
        let dangling = directory + "/dangling.prpk"
        XCTAssertEqual(symlink(directory + "/new.prpk", dangling), 0)
        try ModelFile.save(g, path: dangling)
        XCTAssertEqual(try ModelFile.load(path: directory + "/new.prpk").nodes, g.nodes)
        // No temporary is left behind.
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
        XCTAssertEqual(left, [])
    }

    /// Anything but a regular file at the target is refused, never replaced.
    func testSaveRefusesNonRegularTargets() throws {
        let g = try tinyGraph()
        let fifo = directory + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        ioError({ try ModelFile.save(g, path: fifo) }, "it is a FIFO, not a regular file; refusing to replace it")
        var info = stat()
        XCTAssertEqual(lstat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "the FIFO is still there")
        ioError({ try ModelFile.save(g, path: directory) }, "it is a directory")
        // A link to a device node (as root, one of our own, equivalent to /dev/null): the
        // device is not replaced (as root, it used to be).
        let device = directory + "/null", devLink = directory + "/null-link"
        if mknod(device, S_IFCHR | 0o600, dev_t(1 << 8 | 3)) == 0 {
            XCTAssertEqual(symlink(device, devLink), 0)
            ioError({ try ModelFile.save(g, path: devLink) }, "(→ '\(device)'): it is a character device")
            XCTAssertEqual(lstat(device, &info), 0)
            XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "the device node is still there")
        }
        let loop = directory + "/loop"
        XCTAssertEqual(symlink("loop", loop), 0)
        ioError({ try ModelFile.save(g, path: loop) }, "too many levels of symbolic links")
        ioError({ try ModelFile.save(g, path: "") }, "the path is empty")
    }

    /// Loading a FIFO used to block forever in open(2) waiting for a writer.
    func testLoadingAFIFODoesNotHang() throws {
        let fifo = directory + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        ioError({ _ = try ModelFile.load(path: fifo) }, "is not a regular file")
        ioError({ _ = try ModelFile.load(path: "/dev/zero") }, "is not a regular file")
    }
}
