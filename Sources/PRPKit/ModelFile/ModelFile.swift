/// The prpkit model file: one safetensors file holding the weights (F32) and, in its
/// `__metadata__`, `"format": "prpkit"`, `"format_version": "1"` and `"graph"` (the
/// graph as JSON). Specification: docs/model-format.md.
///
/// Loading validates the container, the metadata, every graph field and the graph
/// itself; `encode` is deterministic, so save → load → encode is bit-exact.
public enum ModelFile {
    public static let format = "prpkit"
    public static let formatVersion = "1"

    public static func load(path: String) throws -> Graph {
        let bytes = try FileIO.readAll(path: path)
        do {
            return try bytes.withUnsafeBytes { try load(bytes: $0) }
        } catch let e as PRPKitError {
            throw e.prefixed("\(path): ")
        }
    }

    /// Loads from a memory image. Everything is validated — the container, the metadata,
    /// the graph, that every tensor is referenced — before any parameter is copied, and
    /// nothing is ever a whole-document JSON tree: peak memory stays within a small
    /// multiple of `bytes.count` (docs/model-format.md, "Limits").
    public static func load(bytes: UnsafeRawBufferPointer) throws -> Graph {
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
                         parameters: SafeTensors.tensors(header))
    }

    public static func encode(_ graph: Graph) -> [UInt8] {
        let metadata = [
            "format": format,
            "format_version": formatVersion,
            "graph": JSONWriter.write(GraphJSON.encode(graph)),
        ]
        return SafeTensors.encode(graph.parameters.map { ($0.key, $0.value) }, metadata: metadata)
    }

    public static func save(_ graph: Graph, path: String) throws {
        try FileIO.writeAll(encode(graph), path: path)
    }
}
