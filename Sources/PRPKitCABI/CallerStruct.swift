import CPRPKit

/// A caller's versioned options struct of include/prpkit.h (its first member is
/// `size_t struct_size`), read field by field: a field exists only when the caller's
/// struct_size covers it, so a program compiled against an older, shorter struct keeps
/// the defaults of fields added since. Offsets come from the header's own declaration
/// (the CPRPKit module), never from copies.
struct CallerStruct<T> {
    private let base: UnsafeRawPointer
    /// The caller's struct_size, in bytes.
    let size: UInt

    /// Reads struct_size; `initializer` names the header function that fills the struct.
    init(_ pointer: UnsafeRawPointer, initializer: String) throws {
        base = pointer
        size = pointer.load(as: UInt.self)
        guard size >= UInt(MemoryLayout<UInt>.size) else {
            throw ABIError.invalidArgument("options.struct_size is \(size); initialize options with \(initializer)()")
        }
    }

    /// Whether the caller's struct reaches the end of `field`.
    func has<V>(_ field: KeyPath<T, V>) -> Bool {
        guard let offset = MemoryLayout<T>.offset(of: field) else { return false }
        return size >= UInt(offset + MemoryLayout<V>.size)
    }

    /// `field`'s value, or nil when the caller's struct is too short to hold it.
    subscript<V>(_ field: KeyPath<T, V>) -> V? {
        guard has(field), let offset = MemoryLayout<T>.offset(of: field) else { return nil }
        return base.load(fromByteOffset: offset, as: V.self)
    }

    /// Throws unless the caller's struct holds every field up to and including `last`.
    func require<V>(_ last: KeyPath<T, V>, initializer: String) throws {
        guard has(last) else {
            throw ABIError.invalidArgument("options.struct_size is \(size); initialize options with \(initializer)()")
        }
    }
}
