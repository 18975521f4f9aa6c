import Foundation
import Testing
import VangnetCrypto

/// Key material lives in locked memory and never prints.
@Suite struct SecretBytesTests {
    /// The `Locked:` size (kB) of the mapping in /proc/self/smaps that holds `address`.
    static func lockedKiB(at address: UInt) throws -> Int? {
        // Read to the end: /proc files report size 0.
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "), dash < space,
                let start = UInt(line[..<dash], radix: 16),
                let end = UInt(line[line.index(after: dash)..<space], radix: 16)
            {
                inside = (start..<end).contains(address)
            } else if inside, line.hasPrefix("Locked:") {
                return Int(line.split(separator: " ")[1])
            }
        }
        return nil
    }

    @Test func keyMaterialIsLockedIntoMemory() throws {
        let key = SecretBytes.random(count: 32)
        let address = key.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        let locked = try #require(try Self.lockedKiB(at: address), "the key's mapping is in /proc/self/smaps")
        #expect(locked > 0, "sodium_malloc locks the key's page (RLIMIT_MEMLOCK permitting)")
    }

    @Test func keyMaterialDoesNotPrint() {
        let key = SecretBytes([1, 2, 3, 4])
        #expect("\(key)" == "SecretBytes(4 bytes, redacted)")
        #expect(String(reflecting: key) == "SecretBytes(4 bytes, redacted)")
        #expect(key.exposedBytes() == [1, 2, 3, 4])
    }
}
