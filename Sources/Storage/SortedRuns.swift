import Foundation
import VangnetCrypto

/// Entries (a sort key and a payload, both bytes) taken in any order and given back in the order
/// of their keys, holding a bounded amount of memory: an external merge sort.
///
/// Entries are gathered in memory up to `memoryLimit` bytes; then (or at ``seal()``) they are
/// sorted and written as one run to a scratch file, and ``merged()`` reads every run at once,
/// block by block, in key order. What never left memory is merged from memory: a small set never
/// touches the disk.
///
/// The scratch file is unlinked as soon as it is made (it has no name a crash could leave
/// behind), in the database's directory (0700), and every block in it is sealed by a
/// ``ScratchCipher`` whose key only this object holds: the records it carries are as private on
/// disk as in the database, and unreadable once the object is gone.
///
/// Keys compare as SQLite compares blobs: bytewise, a prefix first. Entries with equal keys come
/// back in no particular order. One user at a time.
final class SortedRuns {
    /// Entries are written in blocks of about this many bytes, and read back one block per run.
    static let blockBytes = 32 * 1024

    let directory: String
    let memoryLimit: Int
    private let cipher = ScratchCipher()
    private var file: Int32 = -1
    private var fileEnd: Int64 = 0
    private var nextBlock: UInt64 = 0
    private var runs: [Run] = []
    /// Entries not yet written, each as [key length: UInt16][payload length: UInt32][key][payload].
    private var pending: [UInt8] = []
    private var starts: [Int] = []
    /// Entries taken in all.
    private(set) var count = 0

    struct Run {
        let offset: Int64
        let blocks: Int
        let firstBlock: UInt64
    }

    init(directory: String, memoryLimit: Int) {
        (self.directory, self.memoryLimit) = (directory, memoryLimit)
    }

    deinit { if file >= 0 { close(file) } }

    /// Adds an entry whose key and payload the closures append to the bytes they are given.
    func append(key: (inout [UInt8]) -> Void, payload: (inout [UInt8]) -> Void) throws {
        let start = pending.count
        pending.append(contentsOf: repeatElement(0, count: 6))
        key(&pending)
        let keyLength = pending.count - start - 6
        payload(&pending)
        let payloadLength = pending.count - start - 6 - keyLength
        precondition(keyLength <= Int(UInt16.max), "a sort key of \(keyLength) bytes")
        withUnsafeBytes(of: UInt16(keyLength).littleEndian) { pending.replaceSubrange(start..<start + 2, with: $0) }
        withUnsafeBytes(of: UInt32(payloadLength).littleEndian) {
            pending.replaceSubrange(start + 2..<start + 6, with: $0)
        }
        starts.append(start)
        count += 1
        if pending.count >= memoryLimit { try seal() }
    }

    /// Writes the entries gathered so far as a run of their own.
    func seal() throws {
        guard !starts.isEmpty else { return }
        sortPending()
        if file < 0 { file = try Self.scratchFile(in: directory) }
        let run = Run(offset: fileEnd, blocks: 0, firstBlock: nextBlock)
        var blocks = 0
        var plain: [UInt8] = []
        var out: [UInt8] = []
        plain.reserveCapacity(Self.blockBytes * 2)
        func sealBlock() {
            withUnsafeBytes(of: UInt32(plain.count + ScratchCipher.overhead).littleEndian) {
                out.append(contentsOf: $0)
            }
            plain.withUnsafeBytes { cipher.seal($0, number: nextBlock, appendingTo: &out) }
            nextBlock += 1
            blocks += 1
            plain.removeAll(keepingCapacity: true)
        }
        for start in starts {
            let end = start + 6 + Int(Self.keyLength(pending, start)) + Int(Self.payloadLength(pending, start))
            plain.append(contentsOf: pending[start..<end])
            if plain.count >= Self.blockBytes { sealBlock() }
            if out.count >= 1 << 20 { try write(&out) }
        }
        if !plain.isEmpty { sealBlock() }
        try write(&out)
        runs.append(Run(offset: run.offset, blocks: blocks, firstBlock: run.firstBlock))
        pending.removeAll(keepingCapacity: false)
        starts.removeAll(keepingCapacity: false)
    }

    /// Every entry, in key order: the runs on disk and what is still in memory, merged.
    func merged() throws -> Merge {
        sortPending()
        var sources: [Source] = try runs.map { Source(run: $0, file: file, cipher: cipher) }
        if !starts.isEmpty { sources.append(Source(memory: pending, starts: starts)) }
        return try Merge(sources, owner: self)
    }

    private func sortPending() {
        pending.withUnsafeBytes { bytes in
            starts.sort { Self.compare(Self.key(bytes, $0), Self.key(bytes, $1)) < 0 }
        }
    }

    private func write(_ out: inout [UInt8]) throws {
        var done = 0
        while done < out.count {
            let n = out.withUnsafeBytes {
                pwrite(file, $0.baseAddress! + done, $0.count - done, off_t(fileEnd) + off_t(done))
            }
            guard n > 0 else { throw StoreError("writing a scratch file failed (errno \(errno))") }
            done += n
        }
        fileEnd += Int64(out.count)
        out.removeAll(keepingCapacity: true)
    }

    /// A new file in `directory`, owner-only, already unlinked.
    private static func scratchFile(in directory: String) throws -> Int32 {
        var template = Array((directory + "/.vangnet-scratch-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw StoreError("cannot make a scratch file in \(directory) (errno \(errno))") }
        let unlinked = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        guard unlinked == 0 else {
            close(fd)
            throw StoreError("cannot unlink a scratch file in \(directory) (errno \(errno))")
        }
        return fd
    }

    static func keyLength(_ bytes: [UInt8], _ start: Int) -> UInt16 {
        UInt16(bytes[start]) | UInt16(bytes[start + 1]) << 8
    }
    static func payloadLength(_ bytes: [UInt8], _ start: Int) -> UInt32 {
        UInt32(bytes[start + 2]) | UInt32(bytes[start + 3]) << 8 | UInt32(bytes[start + 4]) << 16 | UInt32(
            bytes[start + 5]
        ) << 24
    }

    static func key(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> UnsafeRawBufferPointer {
        let length = Int(bytes[start]) | Int(bytes[start + 1]) << 8
        return UnsafeRawBufferPointer(rebasing: bytes[start + 6..<start + 6 + length])
    }

    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int32 {
        let common = min(a.count, b.count)
        if common > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, common)
            if c != 0 { return c }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// One run being read, or the entries that stayed in memory.
    final class Source {
        private let file: Int32
        private let cipher: ScratchCipher?
        private var offset: Int64 = 0
        private var blocksLeft = 0
        private var blockNumber: UInt64 = 0
        private var sealed: [UInt8] = []
        private var starts: [Int]
        private var next = 0
        /// The current block (or the entries in memory), and where the current entry starts in it.
        private(set) var bytes: [UInt8]
        private(set) var current = 0

        init(run: Run, file: Int32, cipher: ScratchCipher) {
            (self.file, self.cipher) = (file, cipher)
            (offset, blocksLeft, blockNumber) = (run.offset, run.blocks, run.firstBlock)
            (bytes, starts) = ([], [])
        }

        init(memory: [UInt8], starts: [Int]) {
            (file, cipher, bytes, self.starts) = (-1, nil, memory, starts)
        }

        /// Moves to the next entry; false at the end.
        func advance() throws -> Bool {
            guard let cipher else {
                guard next < starts.count else { return false }
                current = starts[next]
                next += 1
                return true
            }
            if next < bytes.count {
                current = next
            } else {
                guard blocksLeft > 0 else { return false }
                var length = UInt32(0)
                try read(into: &sealed, count: 4)
                sealed.withUnsafeBytes { length = UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
                try read(into: &sealed, count: Int(length))
                guard sealed.withUnsafeBytes({ cipher.open($0, number: blockNumber, into: &bytes) }), !bytes.isEmpty
                else {
                    throw StoreError("a scratch file's block \(blockNumber) does not open: it was altered or cut")
                }
                (blockNumber, blocksLeft, current) = (blockNumber + 1, blocksLeft - 1, 0)
            }
            next =
                current + 6 + Int(SortedRuns.keyLength(bytes, current)) + Int(SortedRuns.payloadLength(bytes, current))
            return true
        }

        private func read(into buffer: inout [UInt8], count: Int) throws {
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: repeatElement(0, count: count))
            var done = 0
            while done < count {
                let n = buffer.withUnsafeMutableBytes {
                    pread(file, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                }
                guard n > 0 else { throw StoreError("reading a scratch file failed (errno \(errno))") }
                done += n
            }
            offset += Int64(count)
        }

        func withEntry<R>(
            _ body: (_ key: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer) throws -> R
        ) rethrows -> R {
            try bytes.withUnsafeBytes { all in
                let key = SortedRuns.key(all, current)
                let payloadStart = current + 6 + key.count
                let payload = UnsafeRawBufferPointer(
                    rebasing: all[payloadStart..<payloadStart + Int(SortedRuns.payloadLength(bytes, current))]
                )
                return try body(key, payload)
            }
        }

        func compareKey(with other: Source) -> Int32 {
            bytes.withUnsafeBytes { a in
                other.bytes.withUnsafeBytes { b in
                    SortedRuns.compare(SortedRuns.key(a, current), SortedRuns.key(b, other.current))
                }
            }
        }
    }

    /// The runs' entries in key order: a binary heap of the sources by their current entry.
    struct Merge {
        private var heap: [Source] = []
        private var started = false
        /// Holds the scratch file open while it is read.
        private let owner: SortedRuns

        init(_ sources: [Source], owner: SortedRuns) throws {
            self.owner = owner
            for source in sources where try source.advance() { heap.append(source) }
            for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }

        /// Moves to the next entry in key order; false when every entry was given.
        mutating func next() throws -> Bool {
            if started, let top = heap.first {
                if try top.advance() {
                    siftDown(0)
                } else {
                    heap.swapAt(0, heap.count - 1)
                    heap.removeLast()
                    if !heap.isEmpty { siftDown(0) }
                }
            }
            started = true
            return !heap.isEmpty
        }

        /// The current entry's key and payload (valid inside `body` only).
        func withEntry<R>(
            _ body: (_ key: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer) throws -> R
        ) rethrows -> R {
            try heap[0].withEntry(body)
        }

        private mutating func siftDown(_ start: Int) {
            var i = start
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var smallest = i
                if l < heap.count, heap[l].compareKey(with: heap[smallest]) < 0 { smallest = l }
                if r < heap.count, heap[r].compareKey(with: heap[smallest]) < 0 { smallest = r }
                guard smallest != i else { return }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
    }
}
