extension RelevancePropagator {
    /// One forward pass and everything the backward passes over it read: the activations
    /// the rules need (no other value is kept), the forward-only quantities of the rules
    /// (denominators, z⁺ of α1β0, z^B bounds, similarity normalisers), max-pool argmaxes.
    ///
    /// Immutable once shared (cached). A state used by one backward only may be consumed
    /// by it: entries are dropped as soon as the backward has passed their node.
    public final class ForwardState: @unchecked Sendable {
        public let batch: Int
        /// Owned copies of the inputs the forward ran on (the caller's buffers may change
        /// after the call): the cache compares new inputs with these, byte for byte.
        public let inputs: [Tensor]
        public let outputs: [Tensor]
        /// Shape of every value (inputs and node outputs) for this batch.
        public let shapes: [String: [Int]]
        /// The values the backward reads, by name (see `RelevancePropagator.backwardReads`).
        public private(set) var activations: [String: Tensor]
        /// z' + ε·sign0(z') of every hooking node.
        private(set) var denominators: [String: Tensor]
        /// Argmax per output of every max_pool2d node, for the forward batch.
        private(set) var maxPoolIndices: [String: [Int32]]
        /// Forward-only quantities of the PRP composite's rules.
        private(set) var ruleCaches: [String: any RuleCache]

        init(batch: Int, inputs: [Tensor], outputs: [Tensor], shapes: [String: [Int]], activations: [String: Tensor],
             denominators: [String: Tensor], maxPoolIndices: [String: [Int32]], ruleCaches: [String: any RuleCache]) {
            self.batch = batch; self.inputs = inputs; self.outputs = outputs; self.shapes = shapes
            self.activations = activations; self.denominators = denominators
            self.maxPoolIndices = maxPoolIndices; self.ruleCaches = ruleCaches
        }

        /// The activation of `value`; the backward only asks for values it kept.
        func activation(_ value: String) -> Tensor {
            guard let t = activations[value] else {
                preconditionFailure("prpkit: the forward state has no activation '\(value)' (backwardReads is missing it)")
            }
            return t
        }

        /// Drops what only the backward step of `node` reads (its output, its caches).
        func release(after node: Node) {
            activations[node.name] = nil
            denominators[node.name] = nil
            maxPoolIndices[node.name] = nil
            ruleCaches[node.name] = nil
        }

        /// MB held by each part (each storage counted once, in this order), for the
        /// memory trace: inputs and outputs, kept activations, hook denominators, the rules'
        /// own caches (by rule), max-pool indices.
        var breakdown: String {
            var seen = Set<ObjectIdentifier>()
            func bytes(_ ts: [Tensor]) -> Int {
                ts.reduce(0) { $0 + (seen.insert(ObjectIdentifier($1.storage)).inserted ? $1.storage.count * 4 : 0) }
            }
            func mb(_ b: Int) -> String { String(Double(b / 10_485) / 100) }
            var parts = [("inputs/outputs", bytes(inputs + outputs)), ("activations", bytes(Array(activations.values))),
                         ("denominators", bytes(Array(denominators.values)))]
            var byRule: [String: Int] = [:]
            for (_, cache) in ruleCaches.sorted(by: { $0.key < $1.key }) {
                byRule[String(reflecting: type(of: cache)).split(separator: ".").suffix(2).joined(separator: "."), default: 0] += bytes(cache.tensors)
            }
            parts += byRule.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            parts.append(("max-pool indices", maxPoolIndices.values.reduce(0) { $0 + $1.count * 4 }))
            return parts.map { "\($0.0) \(mb($0.1))" }.joined(separator: ", ") + " MB"
        }

        /// Bytes held by the state's tensors (each storage counted once).
        public var byteCount: Int {
            var seen = Set<ObjectIdentifier>()
            var bytes = 0
            func add(_ t: Tensor) {
                if seen.insert(ObjectIdentifier(t.storage)).inserted { bytes += t.storage.count * 4 }
            }
            inputs.forEach(add); outputs.forEach(add)
            activations.values.forEach(add); denominators.values.forEach(add)
            for cache in ruleCaches.values { cache.tensors.forEach(add) }
            return bytes + maxPoolIndices.values.reduce(0) { $0 + $1.count * 4 }
        }
    }
}
