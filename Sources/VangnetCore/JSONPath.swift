/// A place in a JSON document: object keys and array indices from the root.
package struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    package enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    package var components: [Component]

    package init(_ components: [Component] = []) { self.components = components }

    package static func / (path: JSONPath, key: String) -> JSONPath { JSONPath(path.components + [.key(key)]) }
    package static func / (path: JSONPath, index: Int) -> JSONPath { JSONPath(path.components + [.index(index)]) }

    /// `purposes[0].fields["uwv.inkomstenverhoudingen"][2]`: keys that are not plain words (a
    /// letter or `_`, then letters, digits and `_`) in brackets, so `fieldsByVersion["2"]` is a key.
    package var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let i):
                text += "[\(i)]"
            case .key(let k)
            where !k.isEmpty && !(0x30...0x39).contains(k.utf8.first!)
                && k.utf8.allSatisfy({
                    $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                }):
                text += text.isEmpty ? k : ".\(k)"
            case .key(let k):
                text += "[\"\(k)\"]"
            }
        }
        return text
    }

    /// The line and column (1-based) where the value at this path starts in `json`, or where the
    /// deepest existing part of the path starts; `nil` if the text is not JSON this scanner follows.
    package func location(in json: [UInt8]) -> (line: Int, column: Int)? {
        var scanner = JSONLocator(bytes: json)
        guard let offset = scanner.find(components[...]) else { return nil }
        var line = 1
        var column = 1
        for byte in json[..<offset] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }
}

/// Walks JSON text just far enough to find where a path's value starts. Assumes well-formed JSON
/// (the file was decoded before any problem was reported).
private struct JSONLocator {
    let bytes: [UInt8]
    var i = 0

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
    }

    /// Offset of the value at `path`, starting at the value under the cursor.
    mutating func find(_ path: ArraySlice<JSONPath.Component>) -> Int? {
        skipSpace()
        guard i < bytes.count else { return nil }
        let start = i
        guard let first = path.first else { return start }
        switch (first, bytes[i]) {
        case (.key(let wanted), 0x7B):
            i += 1
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x22, let key = readString() else { return start }
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x3A else { return start }
                i += 1
                if key == wanted { return find(path.dropFirst()) ?? start }
                guard skipValue() else { return start }
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x2C else { return start }
                i += 1
            }
        case (.index(let wanted), 0x5B):
            i += 1
            var n = 0
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] != 0x5D else { return start }
                if n == wanted { return find(path.dropFirst()) ?? start }
                guard skipValue() else { return start }
                skipSpace()
                guard i < bytes.count, bytes[i] == 0x2C else { return start }
                i += 1
                n += 1
            }
        default:
            return start
        }
    }

    /// Reads a string at the cursor (escapes kept as written, enough to compare plain keys).
    mutating func readString() -> String? {
        i += 1
        let start = i
        while i < bytes.count, bytes[i] != 0x22 { i += bytes[i] == 0x5C ? 2 : 1 }
        guard i < bytes.count else { return nil }
        defer { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func skipValue() -> Bool {
        skipSpace()
        guard i < bytes.count else { return false }
        switch bytes[i] {
        case 0x22:
            return readString() != nil
        case 0x7B, 0x5B:
            var depth = 0
            while i < bytes.count {
                switch bytes[i] {
                case 0x22:
                    guard readString() != nil else { return false }
                    continue
                case 0x7B, 0x5B: depth += 1
                case 0x7D, 0x5D:
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                default: break
                }
                i += 1
            }
            return false
        default:
            while i < bytes.count, ![0x2C, 0x7D, 0x5D, 0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
            return true
        }
    }
}
