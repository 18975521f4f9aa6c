import BatchEnvelope
import Foundation
import Pseudonymisation
import Storage
import Testing
import VangnetCore

/// SQLite's staged lines and a commit's new versions wait outside the database, in sorted runs of
/// a scratch file sealed under a key only the store holds.
extension StoreBehaviourTests {
    static let procFileDescriptors = FileManager.default.fileExists(atPath: "/proc/self/fd")

    /// Stages `records` as one batch in groups of `group` (each group one run on disk) and commits it.
    func commitInGroups(
        _ store: any RecordStore,
        _ records: [RoutedRecord],
        group: Int,
        complete: Set<RecordKey>? = nil,
        at i: Int
    ) async throws {
        let id = BatchID()
        let staged = try await store.beginStaging(
            source: source,
            batchId: id,
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        for start in stride(from: 0, to: records.count, by: group) {
            try await store.stage(Array(records[start..<min(start + group, records.count)]), into: staged)
        }
        let outcome = try await commit(store, staged, id, complete: complete, at: i)
        guard case .committed = outcome else { throw StoreError("not committed: \(outcome)") }
    }

    func temporaryDirectory(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-\(name)-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Lines staged in many runs, and versions sorted through a scratch file (a few hundred bytes
    /// of memory for them), give the same index as one run and an in-memory sort: the same rows in
    /// the same order, numbered alike, through a first load and a complete picture that keeps,
    /// withdraws and adds.
    @Test func aStoreThatSortsThroughScratchFilesEndsAsOneThatSortsInMemory() async throws {
        let directory = try temporaryDirectory("scratch-sort")
        defer { try? FileManager.default.removeItem(at: directory) }
        let inMemory = SQLiteRecordStore(try SQLiteStore(path: directory.appendingPathComponent("memory.sqlite").path))
        let onDisk = SQLiteRecordStore(
            try SQLiteStore(path: directory.appendingPathComponent("disk.sqlite").path, sortMemory: 512)
        )
        let first = try records(300, seed: 1)
        let next = Array(first.prefix(100)) + (try records(60, seed: 2, firstLine: 101))
        for (store, group) in [(inMemory, 1_000), (onDisk, 7)] {
            try await commitInGroups(store, first.shuffled(), group: group, at: 1)
            try await commitInGroups(store, next.shuffled(), group: group, complete: Set(next.map(\.record.key)), at: 2)
        }
        let (memoryPicture, diskPicture) = (try await all(inMemory), try await all(onDisk))
        #expect(memoryPicture.count == 160)
        #expect(diskPicture == memoryPicture)
        let (memoryChanges, diskChanges) = (try await changes(inMemory, after: 0), try await changes(onDisk, after: 0))
        do {
            let actual = memoryChanges.filter { $0.line == nil }.count
            #expect(actual == 200)
        }
        #expect(diskChanges == memoryChanges)
    }

    /// The scratch files of `directory` this process holds open: unlinked, so only reachable
    /// through /proc.
    func openScratchFiles(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { fd in
            let path = "/proc/self/fd/\(fd)"
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path),
                target.hasPrefix(directory.resolvingSymlinksInPath().path + "/.vangnet-scratch-")
                    || target.hasPrefix(directory.path + "/.vangnet-scratch-")
            else { return nil }
            return target.hasSuffix("(deleted)") ? path : "named: \(target)"
        }
    }

    /// A staged batch's lines are on disk only sealed: the scratch file has no name, and none of
    /// the records' fields, pseudonyms or keys are in it in the clear; it is gone with its batch.
    @Test(.disabled(if: !procFileDescriptors, "no /proc/self/fd to reach an unlinked file through"))
    func aStagedBatchsScratchFileHoldsNoRecordInTheClear() async throws {
        let directory = try temporaryDirectory("scratch-private")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = SQLiteRecordStore(try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path))
        let staged = try records(40, seed: 5)
        let stage = try await store.beginStaging(
            source: source,
            batchId: BatchID(),
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        try await store.stage(staged, into: stage)

        let files = try openScratchFiles(in: directory)
        do {
            let holds = files.count == 1 && files.allSatisfy { $0.hasPrefix("/proc/") }
            #expect(holds, "\(files)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.contains("scratch")
        }
        #expect(names.isEmpty)
        let bytes = try files.filter { $0.hasPrefix("/proc/") }.map {
            Array(try Data(contentsOf: URL(fileURLWithPath: $0)))
        }
        do {
            let holds = bytes.allSatisfy { $0.count > 40 * 50 }
            #expect(holds, "the file holds the lines")
        }
        var found: [String] = []
        for (i, routed) in staged.enumerated() {
            let needles = [
                ("fields", Array(routed.record.storedFields.utf8.prefix(24))),
                ("pseudonym", routed.record.person.bytes), ("key", routed.record.key.bytes),
            ]
            for (what, needle) in needles where bytes.contains(where: { Self.contains($0, needle) }) {
                found.append("line \(i + 1): \(what)")
            }
        }
        #expect(found.isEmpty, "in the clear: \(found.prefix(5))")

        try await store.discard(stage)
        let left = try openScratchFiles(in: directory)
        #expect(left.isEmpty, "\(left)")
        #expect(try await store.storedRecordRows() == 0)
    }

    /// A scratch file altered while its batch waits for the commit does not open: the commit
    /// fails and changes nothing.
    @Test(.disabled(if: !procFileDescriptors, "no /proc/self/fd to reach an unlinked file through"))
    func aScratchFileAlteredBeforeTheCommitFailsItAndChangesNothing() async throws {
        let directory = try temporaryDirectory("scratch-altered")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = SQLiteRecordStore(try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path))
        try await commitInGroups(store, try records(20, seed: 6), group: 20, at: 1)
        let before = try await all(store)

        let id = BatchID()
        let stage = try await store.beginStaging(
            source: source,
            batchId: id,
            dataset: "uwv.inkomstenverhoudingen",
            epoch: 1,
            at: Date()
        )
        try await store.stage(try records(30, seed: 7), into: stage)
        let file = try #require(try openScratchFiles(in: directory).first)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: file))
        try handle.seek(toOffset: 100)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: [byte ^ 0x01])
        try handle.close()

        var failure: (any Error)?
        do { _ = try await commit(store, stage, id, at: 2) } catch { failure = error }
        let message = failure.map { "\($0)" } ?? ""
        #expect(message.contains("does not open"), "\(message)")
        try await store.discard(stage)
        #expect(try await all(store) == before)
        #expect(try await store.counts().batches == 1)
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first && haystack[i..<i + needle.count].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
