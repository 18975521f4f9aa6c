import Pseudonymisation
import Synchronization

/// A batch's lines between its first staged group and its commit, kept outside the database: each
/// group sorted by (person, key, line) and written as a run of a scratch file (``SortedRuns``), so
/// staging writes neither pages nor log, a commit reads the lines in the order it applies them
/// without sorting them, and a refused batch is dropped by dropping its area.
///
/// An entry's key is the person's bytes, the record key (16 bytes) and the line number (8 bytes,
/// big-endian); its payload is 0 for a withdrawal, or 1, the region (8 bytes, little-endian) and
/// the record's stored fields.
final class StagingArea: Sendable {
    private let runs: Mutex<SortedRuns>
    private let staged = Atomic<Int>(0)

    init(directory: String) {
        // One run per group the pipeline stages: the group is in memory already.
        runs = Mutex(SortedRuns(directory: directory, memoryLimit: .max))
    }

    /// Lines staged so far.
    var count: Int { staged.load(ordering: .relaxed) }

    /// Sorts `lines` and writes them as one run.
    func add(_ lines: [StagedLine]) throws {
        try runs.withLock { runs in
            for staged in lines {
                let (line, person, key, region, fields): (Int, InternalPseudonym, RecordKey, Int?, String?)
                switch staged {
                case .record(let routed):
                    (line, person, key, region, fields) = (
                        routed.record.line, routed.record.person, routed.record.key, routed.region.value,
                        routed.record.storedFields
                    )
                case .withdrawal(let w): (line, person, key, region, fields) = (w.line, w.person, w.key, nil, nil)
                }
                try runs.append(
                    key: { out in
                        out.append(contentsOf: person.bytes)
                        out.append(contentsOf: key.bytes)
                        withUnsafeBytes(of: UInt64(line).bigEndian) { out.append(contentsOf: $0) }
                    },
                    payload: { out in
                        guard let region, let fields else {
                            out.append(0)
                            return
                        }
                        out.append(1)
                        withUnsafeBytes(of: Int64(region).littleEndian) { out.append(contentsOf: $0) }
                        out.append(contentsOf: fields.utf8)
                    }
                )
            }
            try runs.seal()
        }
        staged.add(lines.count, ordering: .relaxed)
    }

    /// The staged lines in (person, key, line) order.
    func lines() throws -> Lines { Lines(merge: try runs.withLock { try $0.merged() }) }

    /// A staged line as the commit applies it.
    struct Line {
        let person: [UInt8]
        let key: RecordKey
        /// With `fields`; both nil for a withdrawal.
        let region: Int?
        let fields: String?
    }

    struct Lines {
        fileprivate var merge: SortedRuns.Merge

        mutating func next() throws -> Line? {
            guard try merge.next() else { return nil }
            return merge.withEntry { key, payload in
                let personLength = key.count - 24
                let person = Array(key.prefix(personLength))
                let recordKey = RecordKey(
                    storedBytes: UnsafeRawBufferPointer(rebasing: key[personLength..<personLength + 16])
                )
                guard payload.first == 1 else { return Line(person: person, key: recordKey, region: nil, fields: nil) }
                let region = Int(Int64(littleEndian: payload.loadUnaligned(fromByteOffset: 1, as: Int64.self)))
                let fields = String(decoding: UnsafeRawBufferPointer(rebasing: payload[9...]), as: UTF8.self)
                return Line(person: person, key: recordKey, region: region, fields: fields)
            }
        }
    }
}
