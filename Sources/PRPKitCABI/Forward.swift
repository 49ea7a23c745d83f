import CPRPKit
import PRPKit

@_cdecl("prpkit_model_forward")
public func prpkit_model_forward(_ model: OpaquePointer?,
                                 _ inputs: UnsafeRawPointer?, _ nInputs: Int,
                                 _ outputs: UnsafeMutableRawPointer?, _ nOutputs: Int,
                                 _ options: UnsafeRawPointer?) -> Int32 {
    guarded {
        let graph = try ModelHandle.from(model).graph
        var threads = 0
        if let options {
            let caller = try CallerStruct<prpkit_forward_options>(options, initializer: "prpkit_forward_default_options")
            threads = Int(caller[\.num_threads] ?? 0)
            guard threads >= 0, threads <= Parallel.maximumThreads else {
                throw ABIError.invalidArgument("options.num_threads must be in 0...\(Parallel.maximumThreads) (0 = the calling thread's setting), got \(threads)")
            }
        }

        guard nInputs == graph.inputs.count else {
            throw ABIError.invalidArgument("model takes \(graph.inputs.count) input(s), n_inputs is \(UInt(bitPattern: nInputs))")
        }
        let tensors = try Buffers.tensors(inputs, count: nInputs, ranks: graph.inputs.map(\.shape.count),
                                          names: graph.inputs.enumerated().map { "input \($0.offset) ('\($0.element.name)')" })
        let shapes = try graph.inferShapes(tensors.map(\.shape))
        guard nOutputs == graph.outputs.count else {
            throw ABIError.invalidArgument("model has \(graph.outputs.count) output(s), n_outputs is \(UInt(bitPattern: nOutputs))")
        }
        try Buffers.prepareOutputs(outputs, shapes: graph.outputs.map { shapes[$0]! },
                                   names: graph.outputs.enumerated().map { "output \($0.offset) ('\($0.element)')" })
        let results = try Parallel.withThreadCount(threads == 0 ? Parallel.threadOverride : threads) {
            try graph.forward(tensors).outputs
        }
        Buffers.write(results, to: outputs!)
    }
}
