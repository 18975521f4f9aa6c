import Foundation
import VangnetCore

extension EnvelopeSealer {
    /// Seals the NDJSON file at `input` into an envelope file at `output`, streaming both: one
    /// pass counts the records for the header, a second encrypts. Memory stays at one chunk.
    /// - Returns: the header written.
    @discardableResult
    package func sealFile(
        _ input: URL,
        to output: URL,
        batchId: BatchID,
        dataset: DatasetID,
        schemaVersion: Int = 1,
        createdAt: Date,
        mode: BatchMode? = nil
    ) throws -> EnvelopeHeader {
        let recordCount = try Self.countRecords(in: input)
        let reader = try FileHandle(forReadingFrom: input)
        defer { try? reader.close() }
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let writer = try FileHandle(forWritingTo: output)
        defer { try? writer.close() }
        try writer.truncate(atOffset: 0)
        return try seal(
            batchId: batchId,
            dataset: dataset,
            schemaVersion: schemaVersion,
            createdAt: createdAt,
            recordCount: recordCount,
            mode: mode,
            read: { n in
                var out: [UInt8] = []
                while out.count < n, let data = try reader.read(upToCount: n - out.count), !data.isEmpty {
                    out.append(contentsOf: data)
                }
                return out
            },
            write: { try writer.write(contentsOf: Data($0)) }
        )
    }

    /// The number of non-empty lines in a file, which is what the gateway counts as records.
    package static func countRecords(in url: URL) throws -> Int {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var count = 0
        var lineHasContent = false
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty {
            for byte in data {
                if byte == 0x0A {
                    if lineHasContent { count += 1 }
                    lineHasContent = false
                } else {
                    lineHasContent = true
                }
            }
        }
        return count + (lineHasContent ? 1 : 0)
    }
}
