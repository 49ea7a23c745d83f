/// The safetensors container (https://github.com/huggingface/safetensors), float32 only:
///
///     [8 bytes: little-endian UInt64 N][N bytes: UTF-8 JSON header][data section]
///
/// The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
/// (offsets into the data section) and may hold `"__metadata__"`, a string → string map.
/// Decoding validates everything and copies the floats into prpkit's aligned storage;
/// any inconsistency is a thrown `PRPKitError`, never an out-of-bounds read.
/// Encoding is deterministic and matches python/prpkit/_safetensors.py byte for byte.
public enum SafeTensors {
    /// Largest accepted header (the reference implementation's limit).
    public static let maxHeaderLength = 100 * 1024 * 1024

    static let metadataKey = "__metadata__"

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
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
        let header: JSONValue
        do {
            header = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)]))
        } catch let e as PRPKitError {
            throw PRPKitError.invalidModel("safetensors: header: \(e.message) (offset within the header)")
        }
        guard case .object(let members) = header else {
            throw PRPKitError.invalidModel("safetensors: header is not a JSON object")
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[(8 + headerLength)...])

        var metadata: [String: String] = [:]
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, info) in members {
            if name == metadataKey {
                guard case .object(let items) = info else {
                    throw PRPKitError.invalidModel("safetensors: __metadata__ must be an object of strings")
                }
                for (key, value) in items {
                    guard case .string(let s) = value else {
                        throw PRPKitError.invalidModel("safetensors: __metadata__ entry '\(key)' is not a string")
                    }
                    metadata[key] = s
                }
                continue
            }
            let entry = try tensorEntry(name, info)
            entries.append((name, entry.shape, entry.begin, entry.end))
        }

        // The data section must be covered exactly: sorted, contiguous, no overlap, no hole.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous = "(start of data)"
        for e in entries {
            guard e.end <= data.count else {
                throw PRPKitError.invalidModel(
                    "safetensors: tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] lie beyond the \(data.count)-byte data section")
            }
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

        var tensors: [String: Tensor] = [:]
        for e in entries {
            let tensor = Tensor(zeros: e.shape)
            if e.end > e.begin {
                UnsafeMutableRawPointer(tensor.data).copyMemory(from: data.baseAddress! + e.begin, byteCount: e.end - e.begin)
            }
            #if _endian(big)
            for i in 0..<tensor.count { tensor.data[i] = Float(bitPattern: UInt32(littleEndian: tensor.data[i].bitPattern)) }
            #endif
            tensors[e.name] = tensor
        }
        return (tensors, metadata)
    }

    /// Validates one tensor's header entry; returns its shape and byte range.
    static func tensorEntry(_ name: String, _ info: JSONValue) throws -> (shape: [Int], begin: Int, end: Int) {
        let context = "safetensors: tensor '\(name)'"
        guard !name.isEmpty else { throw PRPKitError.invalidModel("safetensors: empty tensor name") }
        guard case .object(let fields) = info else {
            throw PRPKitError.invalidModel("\(context): entry must be an object with dtype, shape and data_offsets")
        }
        if let extra = fields.first(where: { !["dtype", "shape", "data_offsets"].contains($0.0) }) {
            throw PRPKitError.invalidModel("\(context): unknown field '\(extra.0)'")
        }
        guard case .string(let dtype)? = info["dtype"] else {
            throw PRPKitError.invalidModel("\(context): missing or non-string 'dtype'")
        }
        guard dtype == "F32" else {
            throw PRPKitError.unsupported(
                "\(context) has dtype \(dtype); prpkit model parameters must be float32 (F32)")
        }
        guard case .array(let dims)? = info["shape"] else {
            throw PRPKitError.invalidModel("\(context): missing or non-array 'shape'")
        }
        var shape: [Int] = []
        var count = 1
        for d in dims {
            guard let v = AttributeReader.exactInt(d), v >= 0 else {
                throw PRPKitError.invalidModel("\(context): shape entries must be non-negative integers")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: v)
            guard !overflow, product <= Int(Int32.max) else {
                throw PRPKitError.invalidModel("\(context): shape \(dims.map { JSONWriter.write($0) }) is too large")
            }
            count = product
            shape.append(v)
        }
        guard case .array(let offsets)? = info["data_offsets"], offsets.count == 2,
              let begin = AttributeReader.exactInt(offsets[0]), let end = AttributeReader.exactInt(offsets[1]),
              begin >= 0, end >= begin else {
            throw PRPKitError.invalidModel("\(context): 'data_offsets' must be two integers 0 ≤ begin ≤ end")
        }
        guard end - begin == count * 4 else {
            throw PRPKitError.invalidModel(
                "\(context): shape \(shape) needs \(count * 4) bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return (shape, begin, end)
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
    func prefixed(_ prefix: String) -> PRPKitError {
        switch self {
        case .invalidArgument(let m): return .invalidArgument(prefix + m)
        case .invalidModel(let m): return .invalidModel(prefix + m)
        case .unsupported(let m): return .unsupported(prefix + m)
        case .io(let m): return .io(prefix + m)
        }
    }
}
