import Foundation

/// The source of "now". Injected everywhere, so that tests are exact.
package protocol WallClock: Sendable {
    func now() -> Date
}

/// The system clock.
package struct SystemClock: WallClock {
    package init() {}
    package func now() -> Date { Date() }
}

/// A clock that always reads the same instant.
package struct FixedClock: WallClock {
    package let instant: Date
    package init(_ instant: Date) { self.instant = instant }
    package func now() -> Date { instant }
}
