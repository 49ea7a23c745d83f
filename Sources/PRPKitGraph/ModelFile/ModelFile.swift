/// The prpkit model file: one safetensors file holding the weights (F32) and, in its
/// `__metadata__`, `"format": "prpkit"`, `"format_version": "1"` and `"graph"` (the
/// graph as JSON). Specification: docs/model-format.md.
///
/// Loading validates the container, the metadata, every graph field and the graph
/// itself; `encode` is deterministic, so save → load → encode is bit-exact.
public enum ModelFile {
    public static let format = "prpkit"
    public static let formatVersion = "1"

    /// Loads a model file. The file is memory-mapped: weights are read from it on first
    /// use and cost memory only while resident (the system may drop clean pages). Like any
    /// mapped file it must not be truncated or rewritten in place while loaded (prpkit's
    /// own writers replace files by renaming a new one over them, which is safe).
    public static func load(path: String) throws -> Graph {
        let mapped = try FileIO.map(path: path)
        do {
            guard let mapped else { return try load(bytes: UnsafeRawBufferPointer(start: nil, count: 0)) }
            return try load(bytes: mapped.bytes, mapping: mapped)
        } catch let e as PRPKitError {
            throw e.prefixed("\(path): ")
        }
    }

    /// Loads a model file image from memory; the weights are copied (the caller may free
    /// `bytes` afterwards). Everything is validated — the container, the metadata, the
    /// graph, that every tensor is referenced — before any parameter is copied, and
    /// nothing is ever a whole-document JSON tree: peak memory stays within a small
    /// multiple of `bytes.count` (docs/model-format.md, "Limits").
    public static func load(bytes: UnsafeRawBufferPointer) throws -> Graph {
        try load(bytes: bytes, mapping: nil)
    }

    /// `mapping` owns `bytes` (a mapped file): float32-aligned tensors then borrow from it.
    static package func load(bytes: UnsafeRawBufferPointer, mapping: AnyObject?) throws -> Graph {
        let header = try SafeTensors.decodeHeader(bytes)
        let metadata = header.metadata
        guard let format = metadata["format"] else {
            throw PRPKitError.invalidModel("not a prpkit model file: metadata has no 'format' entry")
        }
        guard format == ModelFile.format else {
            throw PRPKitError.invalidModel("not a prpkit model file: metadata format is '\(format)', expected 'prpkit'")
        }
        guard let version = metadata["format_version"] else {
            throw PRPKitError.invalidModel("metadata has no 'format_version' entry")
        }
        guard version == formatVersion else {
            throw PRPKitError.unsupported("format_version '\(version)' is not supported (this prpkit reads version \(formatVersion))")
        }
        guard var graphText = metadata["graph"] else {
            throw PRPKitError.invalidModel("metadata has no 'graph' entry")
        }
        if let extra = metadata.keys.sorted().first(where: { !["format", "format_version", "graph"].contains($0) }) {
            throw PRPKitError.invalidModel("unknown metadata entry '\(extra)'")
        }
        let parts = try graphText.withUTF8 { try GraphJSON.decodeParts(UnsafeRawBufferPointer($0)) }
        let referenced = Set(parts.nodes.lazy.flatMap { $0.parameters.values })
        if let unused = header.entries.map(\.name).sorted().first(where: { !referenced.contains($0) }) {
            throw PRPKitError.invalidModel("tensor '\(unused)' is not referenced by any node")
        }
        return try Graph(inputs: parts.inputs, nodes: parts.nodes, outputs: parts.outputs,
                         parameters: SafeTensors.tensors(header, mapping: mapping))
    }

    /// The graph document a model file carries for `graph` (docs/model-format.md).
    public static func graphJSON(_ graph: Graph) -> String {
        JSONWriter.write(GraphJSON.encode(graph))
    }

    public static func encode(_ graph: Graph) -> [UInt8] {
        let metadata = [
            "format": format,
            "format_version": formatVersion,
            "graph": graphJSON(graph),
        ]
        return SafeTensors.encode(graph.parameters.map { ($0.key, $0.value) }, metadata: metadata)
    }

    public static func save(_ graph: Graph, path: String) throws {
        try FileIO.writeAll(encode(graph), path: path)
    }
}
