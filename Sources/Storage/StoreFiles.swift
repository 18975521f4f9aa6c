import Foundation

/// A SQLite store's files are readable by others, or cannot be made owner-only.
package struct StoreFileError: Error, CustomStringConvertible {
    package let path: String
    package let reason: String
    package var description: String { "database \(path): \(reason)" }
}

/// The owner-only rule for a SQLite store's files: the database, its `-wal`, `-shm` and
/// `-journal` files, and a directory the store creates.
enum StoreFiles {
    static let companions = ["", "-wal", "-shm", "-journal"]

    /// Creates the database file 0600 (and its directory 0700) if it does not exist yet, so that
    /// SQLite, which gives the WAL and shared-memory files the database's mode, never makes a
    /// file others can read; then refuses any of the store's files that group or others may read.
    static func prepare(_ path: String, create: Bool) throws {
        let fm = FileManager.default
        let directory = (path as NSString).deletingLastPathComponent
        if create, !directory.isEmpty, !fm.fileExists(atPath: directory) {
            try fm.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        }
        if create, !fm.fileExists(atPath: path) {
            let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw StoreFileError(path: path, reason: "cannot be created (\(String(cString: strerror(errno))))")
            }
            close(descriptor)
        }
        for suffix in companions {
            let file = path + suffix
            guard let attributes = try? fm.attributesOfItem(atPath: file) else { continue }
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
            guard mode & 0o077 == 0 else {
                throw StoreFileError(
                    path: file,
                    reason:
                        "readable by others (mode \(String(mode, radix: 8))); it holds pseudonymised records: run chmod 600"
                )
            }
        }
    }
}
