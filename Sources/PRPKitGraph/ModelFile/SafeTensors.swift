/// The safetensors container (https://github.com/huggingface/safetensors), float32 only:
///
///     [8 bytes: little-endian UInt64 N][N bytes: UTF-8 JSON header][data section]
///
/// The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
/// (offsets into the data section) and may hold `"__metadata__"`, a string → string map.
/// Decoding validates everything; the floats are copied into prpkit's aligned storage, or,
/// for a memory-mapped file, used where they lie (no copy, pages read on first use).
/// Any inconsistency is a thrown `PRPKitError`, never an out-of-bounds read.
/// Encoding is deterministic and matches python/prpkit/_safetensors.py byte for byte.
public enum SafeTensors {
    /// Largest accepted header (the reference implementation's limit).
    public static let maxHeaderLength = 100 * 1024 * 1024

    static package let metadataKey = "__metadata__"

    /// Most tensors one file may hold (a large CNN has a few thousand parameter tensors);
    /// a header with more is rejected as soon as the excess entry is read.
    public static let maxTensors = 1 << 18
    /// Highest tensor rank (PRPKIT_MAX_RANK in the C ABI).
    public static let maxRank = 8

    /// One tensor's header entry, validated against the data section.
    package struct Entry {
        let name: String
        let shape: [Int]
        let begin: Int, end: Int
    }

    /// A validated container whose floats have not been copied yet.
    package struct Header {
        var entries: [Entry]
        var metadata: [String: String]
        /// The data section (borrowed from the caller's bytes).
        var data: UnsafeRawBufferPointer
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let header = try decodeHeader(bytes)
        return (tensors(header), header.metadata)
    }

    /// Validates the container — length field, header, every entry, exact coverage of the
    /// data section — without allocating any tensor. The header is streamed: its memory
    /// is a small multiple of its size, and hostile headers fail at the first bad entry.
    static package func decodeHeader(_ bytes: UnsafeRawBufferPointer) throws -> Header {
        guard bytes.count >= 8 else {
            throw PRPKitError.invalidModel("safetensors: file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maxHeaderLength) else {
            throw PRPKitError.invalidModel("safetensors: header length \(n) exceeds the limit of \(maxHeaderLength) bytes")
        }
        let headerLength = Int(n)
        guard headerLength <= bytes.count - 8 else {
            throw PRPKitError.invalidModel(
                "safetensors: header length \(headerLength) exceeds the \(bytes.count - 8) bytes after the length field (truncated file?)")
        }
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw PRPKitError.invalidModel("safetensors: header does not start with '{'")
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[(8 + headerLength)...])
        var stream = JSONStream(UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)]),
                                errorPrefix: "safetensors: header: ", errorSuffix: " (offset within the header)")
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        try stream.object { s, name in
            if name == metadataKey {
                guard s.peek() == UInt8(ascii: "{") else {
                    throw PRPKitError.invalidModel("safetensors: __metadata__ must be an object of strings")
                }
                try s.object { s, key in
                    guard s.peek() == UInt8(ascii: "\"") else {
                        throw PRPKitError.invalidModel("safetensors: __metadata__ entry '\(key)' is not a string")
                    }
                    metadata[key] = try s.string()
                }
                return
            }
            guard entries.count < maxTensors else {
                throw PRPKitError.invalidModel("safetensors: more than \(maxTensors) tensors (the limit of one file)")
            }
            entries.append(try tensorEntry(name, &s, dataSize: data.count))
        }
        try stream.finish()

        // The data section must be covered exactly: sorted, contiguous, no overlap, no hole.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous = "(start of data)"
        for e in entries {
            if e.begin < cursor {
                throw PRPKitError.invalidModel(
                    "safetensors: tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] overlap '\(previous)' (ends at \(cursor))")
            }
            if e.begin > cursor {
                throw PRPKitError.invalidModel(
                    "safetensors: bytes [\(cursor), \(e.begin)) of the data section belong to no tensor (after '\(previous)')")
            }
            cursor = e.end
            previous = e.name
        }
        guard cursor == data.count else {
            throw PRPKitError.invalidModel(
                "safetensors: the data section has \(data.count) bytes but the tensors cover \(cursor) (trailing bytes or truncated file)")
        }
        return Header(entries: entries, metadata: metadata, data: data)
    }

    /// Every entry's floats: borrowed from `mapping` (which owns `header.data`, a mapped
    /// file) when float32-aligned there, else copied into prpkit's aligned storage.
    static package func tensors(_ header: Header, mapping: AnyObject? = nil) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(header.entries.count)
        let data = header.data
        for e in header.entries {
            #if _endian(little)
            if let mapping, e.end > e.begin, Int(bitPattern: data.baseAddress! + e.begin) % MemoryLayout<Float>.alignment == 0 {
                let p = UnsafeMutableRawPointer(mutating: data.baseAddress! + e.begin).assumingMemoryBound(to: Float.self)
                tensors[e.name] = Tensor(mapped: p, shape: e.shape, mapping: mapping)
                continue
            }
            #endif
            let tensor = Tensor(zeros: e.shape)
            if e.end > e.begin {
                UnsafeMutableRawPointer(tensor.data).copyMemory(from: header.data.baseAddress! + e.begin, byteCount: e.end - e.begin)
            }
            #if _endian(big)
            for i in 0..<tensor.count { tensor.data[i] = Float(bitPattern: UInt32(littleEndian: tensor.data[i].bitPattern)) }
            #endif
            tensors[e.name] = tensor
        }
        return tensors
    }

    /// Reads and validates one tensor's header entry at the stream's position.
    static package func tensorEntry(_ name: String, _ s: inout JSONStream, dataSize: Int) throws -> Entry {
        let context = "safetensors: tensor '\(name)'"
        guard !name.isEmpty else { throw PRPKitError.invalidModel("safetensors: empty tensor name") }
        guard s.peek() == UInt8(ascii: "{") else {
            _ = try s.value()  // a syntax error in the value is reported as such
            throw PRPKitError.invalidModel("\(context): entry must be an object with dtype, shape and data_offsets")
        }
        var dtype: String? = nil
        var shape: [Int]? = nil
        var offsets: [Int]? = nil
        func integer(_ s: inout JSONStream) throws -> Int? {
            guard let b = s.peek(), b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) else { return nil }
            return AttributeReader.exactInt(.number(try s.number()))
        }
        try s.object { s, key in
            switch key {
            case "dtype":
                guard s.peek() == UInt8(ascii: "\"") else { throw PRPKitError.invalidModel("\(context): missing or non-string 'dtype'") }
                dtype = try s.string()
            case "shape":
                guard s.peek() == UInt8(ascii: "[") else { throw PRPKitError.invalidModel("\(context): missing or non-array 'shape'") }
                var dims: [Int] = []
                try s.array { s, _ in
                    guard let v = try integer(&s), v >= 0 else {
                        throw PRPKitError.invalidModel("\(context): shape entries must be non-negative integers")
                    }
                    guard dims.count < maxRank else {
                        throw PRPKitError.invalidModel("\(context): shape has more than \(maxRank) dimensions")
                    }
                    dims.append(v)
                }
                shape = dims
            case "data_offsets":
                let bad = PRPKitError.invalidModel("\(context): 'data_offsets' must be two integers 0 ≤ begin ≤ end")
                guard s.peek() == UInt8(ascii: "[") else { throw bad }
                var pair: [Int] = []
                try s.array { s, _ in
                    guard pair.count < 2, let v = try integer(&s) else { throw bad }
                    pair.append(v)
                }
                guard pair.count == 2, pair[0] >= 0, pair[1] >= pair[0] else { throw bad }
                offsets = pair
            default:
                throw PRPKitError.invalidModel("\(context): unknown field '\(key)'")
            }
        }
        guard let dtype else { throw PRPKitError.invalidModel("\(context): missing or non-string 'dtype'") }
        guard dtype == "F32" else {
            throw PRPKitError.unsupported("\(context) has dtype \(dtype); prpkit model parameters must be float32 (F32)")
        }
        guard let shape else { throw PRPKitError.invalidModel("\(context): missing or non-array 'shape'") }
        guard let count = ShapeMath.product(shape) else {
            throw PRPKitError.invalidModel("\(context): shape \(shape) is too large (more than \(ShapeMath.maxElements) elements)")
        }
        guard let offsets else { throw PRPKitError.invalidModel("\(context): 'data_offsets' must be two integers 0 ≤ begin ≤ end") }
        let (begin, end) = (offsets[0], offsets[1])
        guard end - begin == ShapeMath.bytes(floats: count) else {
            throw PRPKitError.invalidModel(
                "\(context): shape \(shape) needs \(ShapeMath.bytes(floats: count)) bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        guard end <= dataSize else {
            throw PRPKitError.invalidModel(
                "safetensors: tensor '\(name)' data_offsets [\(begin), \(end)] lie beyond the \(dataSize)-byte data section")
        }
        return Entry(name: name, shape: shape, begin: begin, end: end)
    }

    /// Serializes tensors and metadata: `__metadata__` first (keys sorted), then the
    /// tensors in sorted name order, laid out contiguously; compact JSON padded with
    /// spaces so that the data section starts at a multiple of 8.
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String]) -> [UInt8] {
        let sorted = tensors.sorted { $0.0 < $1.0 }
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            members.append((metadataKey, .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for (name, tensor) in sorted {
            let length = tensor.count * 4
            members.append((name, .object([
                ("dtype", .string("F32")),
                ("shape", .array(tensor.shape.map { .number(Double($0)) })),
                ("data_offsets", .array([.number(Double(offset)), .number(Double(offset + length))])),
            ])))
            offset += length
        }
        var header = Array(JSONWriter.write(.object(members)).utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let n = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        out.append(contentsOf: header)
        for (_, tensor) in sorted {
            #if _endian(little)
            out.append(contentsOf: UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4))
            #else
            for i in 0..<tensor.count {
                let bits = tensor.data[i].bitPattern
                out.append(UInt8(truncatingIfNeeded: bits))
                out.append(UInt8(truncatingIfNeeded: bits >> 8))
                out.append(UInt8(truncatingIfNeeded: bits >> 16))
                out.append(UInt8(truncatingIfNeeded: bits >> 24))
            }
            #endif
        }
        return out
    }

    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let bytes = try FileIO.readAll(path: path)
        do {
            return try bytes.withUnsafeBytes { try decode($0) }
        } catch let e as PRPKitError {
            throw e.prefixed("\(path): ")
        }
    }

    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String], path: String) throws {
        try FileIO.writeAll(encode(tensors, metadata: metadata), path: path)
    }
}

extension PRPKitError {
    /// The same error with `prefix` in front of its message.
    package func prefixed(_ prefix: String) -> PRPKitError {
        switch self {
        case .invalidArgument(let m): return .invalidArgument(prefix + m)
        case .invalidModel(let m): return .invalidModel(prefix + m)
        case .unsupported(let m): return .unsupported(prefix + m)
        case .io(let m): return .io(prefix + m)
        }
    }
}
