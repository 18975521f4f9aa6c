import Foundation
import Storage
import Testing

/// The SQLite store holds pseudonymised records and person link hashes: its files are owner-only,
/// whatever the umask, and a store that others can read is refused.
@Suite struct StoreFileTests {
    func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent(
            "vangnet-store-files-\(UUID().uuidString.prefix(8))"
        )
    }

    func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func aNewStoreAndItsWALAndSharedMemoryFilesAreOwnerOnlyUnderUmask022() throws {
        let directory = temporaryDirectory().appendingPathComponent("data")
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let previous = umask(0o022)
        defer { umask(previous) }
        let path = directory.appendingPathComponent("vangnet.sqlite").path
        let store = try SQLiteStore(path: path)
        _ = try store.auditHead()
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file)")
            let fileMode = try mode(file)
            #expect(fileMode == 0o600, "\(file): \(String(fileMode, radix: 8))")
        }
        #expect(try mode(directory.path) == 0o700, "the directory the store made")
    }

    @Test func aStoreOthersCanReadIsRefused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("vangnet.sqlite").path
        let open = try SQLiteStore(path: path)  // kept open: its WAL file exists while it is
        _ = try open.auditHead()
        for file in [path, path + "-wal"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
            let error = #expect(throws: StoreFileError.self) { _ = try SQLiteStore(path: path) }
            #expect(error?.path == file)
            #expect(error?.description.contains("chmod 600") == true)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
        _ = try SQLiteStore(path: path)
    }
}
