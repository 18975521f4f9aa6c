/// Splits a byte stream into lines as chunks arrive, across chunk boundaries: feed it chunks and
/// pull the lines they complete, as swift-nio's single-step decoders are driven.
///
/// ```swift
/// splitter.feed(chunk)
/// while let line = splitter.next() { … }
/// splitter.finish()                       // the stream ended
/// while let line = splitter.next() { … }  // a last line without a newline
/// ```
///
/// Holds at most one partial line, bounded by `maxLineBytes`: beyond that the line is dropped as
/// it streams and reported as oversized. Blank lines (empty, or only spaces, tabs and CRs) are
/// skipped but numbered.
package struct LineSplitter: Sendable {
    package enum Line: Equatable, Sendable {
        /// A line without its newline, numbered from 1.
        case line(ArraySlice<UInt8>, number: Int)
        case oversized(number: Int)
    }

    private let maxLineBytes: Int
    /// The bytes fed and not yet split off, from `start`.
    private var bytes: [UInt8] = []
    private var start = 0
    /// How many bytes from `start` are known to hold no newline.
    private var searched = 0
    /// Inside a line already known to be oversized: its bytes are dropped until its newline.
    private var dropping = false
    private var lineNumber = 0
    private var ended = false

    package init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// Adds the stream's next bytes. Lines they complete come from ``next()``.
    package mutating func feed(_ chunk: [UInt8]) {
        precondition(!ended, "bytes fed after the stream ended")
        if start == bytes.count {
            (bytes, start, searched) = (chunk, 0, 0)
        } else {
            // Keep only the partial line (at most `maxLineBytes`) before the new bytes.
            bytes.removeSubrange(0..<start)
            start = 0
            bytes.append(contentsOf: chunk)
        }
    }

    /// Ends the stream: a last line without a newline is still a line.
    package mutating func finish() { ended = true }

    /// The next complete line, or nil until more bytes are fed (or, after ``finish()``, at the end).
    package mutating func next() -> Line? {
        while true {
            if let newline = bytes[(start + searched)...].firstIndex(of: 0x0A) {
                lineNumber += 1
                let line = bytes[start..<newline]
                (start, searched) = (newline + 1, 0)
                if dropping {
                    dropping = false
                    return .oversized(number: lineNumber)
                }
                if Self.isBlank(line) { continue }
                return line.count > maxLineBytes ? .oversized(number: lineNumber) : .line(line, number: lineNumber)
            }
            let partial = bytes.count - start
            if dropping || partial > maxLineBytes {
                dropping = true
                (bytes, start, searched) = ([], 0, 0)
            } else {
                searched = partial
            }
            guard ended, dropping || partial > 0 else { return nil }
            // The stream ended inside a line: that line is the last.
            lineNumber += 1
            defer { (bytes, start, searched, dropping) = ([], 0, 0, false) }
            if dropping { return .oversized(number: lineNumber) }
            return Self.isBlank(bytes[start...]) ? nil : .line(bytes[start...], number: lineNumber)
        }
    }

    /// Empty, or only JSON whitespace (space, tab, CR): not a record, though it has a number.
    private static func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
