// Fuzz target: a model file image, loaded through the C ABI as a C caller would.
// Properties checked on every input:
//   - a failed load returns an error status with a message and leaves *out NULL;
//   - a loaded model re-encodes deterministically (save → load → save is bit-exact) and
//     answers every shape query;
//   - a model whose activations are small (≤ 2^18 floats in all) runs a forward pass on an
//     input made from the fuzz bytes, through the ABI, with its declared input shapes.
// Everything runs under AddressSanitizer; a trap, an ASan report, a leak or a timeout is
// a finding. Seeds: Tests/Fuzz/corpus/model. Build and run: scripts/fuzz.sh.
import PRPKit
import PRPKitCABI
import prpkit_fuzz_Driver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelLoad(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var handle: OpaquePointer? = OpaquePointer(bitPattern: 1)
    let status = prpkit_model_load_from_memory(data, size, &handle)
    guard status == 0 else {
        if handle != nil { finding("failed load (status \(status)) left *out set") }
        if prpkit_last_error().pointee == 0 { finding("status \(status) without a message") }
        return 0
    }
    guard let handle else { finding("successful load without a model") }
    defer { prpkit_model_free(handle) }

    let graph: Graph
    do { graph = try ModelFile.load(bytes: UnsafeRawBufferPointer(start: data, count: size)) } catch {
        finding("the ABI loaded a model that ModelFile rejects: \(error)")
    }
    let bytes = ModelFile.encode(graph)
    do {
        let again = try bytes.withUnsafeBytes { try ModelFile.load(bytes: $0) }
        if ModelFile.encode(again) != bytes { finding("save → load → save is not bit-exact") }
    } catch {
        finding("a saved model does not load: \(error)")
    }

    var rank = 0
    var shape = [Int64](repeating: 0, count: 8)
    for i in 0..<graph.outputs.count where prpkit_model_output_shape(handle, i, &shape, 8, &rank) != 0 {
        finding("output_shape(\(i)) failed: \(String(cString: prpkit_last_error()))")
    }

    let activations = graph.shapes.values.reduce(0) { $0 + Tensor.elementCount($1) }
    guard activations <= 1 << 18 else { return 0 }
    // prpkit_input { data, shape, rank } and prpkit_output { data, capacity, shape[8], rank }
    // slots, laid out as include/prpkit.h declares them.
    var buffers: [UnsafeMutablePointer<Float>] = []
    var extents: [UnsafeMutablePointer<Int64>] = []
    defer {
        buffers.forEach { $0.deallocate() }
        extents.forEach { $0.deallocate() }
    }
    let inputs = UnsafeMutableRawPointer.allocate(byteCount: 24 * graph.inputs.count, alignment: 8)
    let outputs = UnsafeMutableRawPointer.allocate(byteCount: 88 * graph.outputs.count, alignment: 8)
    defer { inputs.deallocate(); outputs.deallocate() }
    for (i, info) in graph.inputs.enumerated() {
        let n = Tensor.elementCount(info.shape)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: n)
        for j in 0..<n { x[j] = Float(Int(data![j % size]) - 128) / 32 }
        let dims = UnsafeMutablePointer<Int64>.allocate(capacity: info.shape.count)
        for (d, e) in info.shape.enumerated() { dims[d] = Int64(e) }
        buffers.append(x)
        extents.append(dims)
        inputs.storeBytes(of: UnsafePointer(x), toByteOffset: 24 * i, as: UnsafePointer<Float>.self)
        inputs.storeBytes(of: UnsafePointer(dims), toByteOffset: 24 * i + 8, as: UnsafePointer<Int64>.self)
        inputs.storeBytes(of: info.shape.count, toByteOffset: 24 * i + 16, as: Int.self)
    }
    for (i, name) in graph.outputs.enumerated() {
        let n = Tensor.elementCount(graph.shapes[name]!)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        buffers.append(y)
        outputs.storeBytes(of: y, toByteOffset: 88 * i, as: UnsafeMutablePointer<Float>.self)
        outputs.storeBytes(of: n, toByteOffset: 88 * i + 8, as: Int.self)
    }
    let st = prpkit_model_forward(handle, inputs, graph.inputs.count, outputs, graph.outputs.count, nil)
    if st != 0 && prpkit_last_error().pointee == 0 { finding("forward status \(st) without a message") }
    return 0
}

runFuzzer(fuzzModelLoad)
