import Foundation
import LakeFormat
import Synchronization

/// A `Storage` holding every object in memory, for tests: a lake driven through it must leave
/// nothing but its catalog on disk, which proves no code reads or writes data files around the
/// interface. It also counts operations, so tests can see what the layers above ask for.
public final class InMemoryStorage: Storage, @unchecked Sendable {
    struct Object {
        var bytes: [UInt8]
        var modifiedMicros: Int64
    }

    public struct Counts: Sendable, Equatable {
        public var creates = 0, publishes = 0, opens = 0, reads = 0, deletes = 0, lists = 0, infos = 0
    }

    private let state = Mutex<(objects: [StorageKey: Object], counts: Counts)>(([:], Counts()))
    public let rootDescription: String

    public init(name: String = "memory:") { rootDescription = name }

    public func location(of key: StorageKey) -> String { rootDescription + key.path }

    public var counts: Counts { state.withLock { $0.counts } }
    public var keys: [StorageKey] { state.withLock { $0.objects.keys.sorted() } }

    /// Test instrumentation: replaces an object's bytes (corruption) or its time (age).
    public func replace(_ key: StorageKey, bytes: [UInt8]? = nil, modifiedMicros: Int64? = nil) {
        state.withLock { s in
            guard var o = s.objects[key] else { return }
            if let bytes { o.bytes = bytes }
            if let modifiedMicros { o.modifiedMicros = modifiedMicros }
            s.objects[key] = o
        }
    }

    public func create(_ key: StorageKey) throws(StorageError) -> any StorageWriter {
        state.withLock { $0.counts.creates += 1 }
        return Writer(storage: self, key: key)
    }

    public func open(_ key: StorageKey) throws(StorageError) -> any StorageReader {
        let bytes: [UInt8]? = state.withLock { s in
            s.counts.opens += 1
            return s.objects[key]?.bytes
        }
        guard let bytes else { throw .notFound(location(of: key)) }
        return Reader(storage: self, location: location(of: key), bytes: bytes)
    }

    public func info(_ key: StorageKey) throws(StorageError) -> StorageObjectInfo? {
        state.withLock { s in
            s.counts.infos += 1
            return s.objects[key].map { StorageObjectInfo(key: key, size: Int64($0.bytes.count), modifiedMicros: $0.modifiedMicros) }
        }
    }

    public func delete(_ key: StorageKey) throws(StorageError) {
        state.withLock { s in
            s.counts.deletes += 1
            s.objects[key] = nil
        }
    }

    public func list(prefix: StorageKey?) throws(StorageError) -> [StorageObjectInfo] {
        let start = prefix.map { $0.path + "/" } ?? ""
        return state.withLock { s in
            s.counts.lists += 1
            return s.objects.filter { $0.key.path.hasPrefix(start) }
                .map { StorageObjectInfo(key: $0.key, size: Int64($0.value.bytes.count), modifiedMicros: $0.value.modifiedMicros) }
        }.sorted { $0.key < $1.key }
    }

    fileprivate func countRead() { state.withLock { $0.counts.reads += 1 } }

    /// Conditional put: the object appears whole at publish, and only if the key is free.
    fileprivate func publish(_ key: StorageKey, _ bytes: [UInt8]) throws(StorageError) {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let taken = state.withLock { s -> Bool in
            s.counts.publishes += 1
            if s.objects[key] != nil { return true }
            s.objects[key] = Object(bytes: bytes, modifiedMicros: now)
            return false
        }
        if taken { throw .alreadyExists(location(of: key)) }
    }

    final class Writer: StorageWriter {
        let storage: InMemoryStorage
        let key: StorageKey
        var bytes: [UInt8] = []
        var published = false

        init(storage: InMemoryStorage, key: StorageKey) {
            self.storage = storage
            self.key = key
        }

        func write(_ raw: UnsafeRawBufferPointer) throws(StorageError) {
            precondition(!published, "write after publish")
            bytes.append(contentsOf: raw)
        }

        func publish() throws(StorageError) {
            precondition(!published, "publish twice")
            published = true
            try storage.publish(key, bytes)
        }
    }

    final class Reader: StorageReader, @unchecked Sendable {
        let storage: InMemoryStorage
        let location: String
        let bytes: [UInt8]
        var size: Int64 { Int64(bytes.count) }

        init(storage: InMemoryStorage, location: String, bytes: [UInt8]) {
            self.storage = storage
            self.location = location
            self.bytes = bytes
        }

        func read(at offset: Int64, count: Int) throws(StorageError) -> [UInt8] {
            storage.countRead()
            guard offset >= 0, count >= 0, offset + Int64(count) <= size else {
                throw .shortRead(location: location, offset: offset, count: count, size: size)
            }
            return Array(bytes[Int(offset) ..< Int(offset) + count])
        }
    }
}
