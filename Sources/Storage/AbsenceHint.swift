/// What one seek by person in a table keyed by person shows besides the person's own rows: the
/// next person the table holds. Until that person, nobody has rows, so lookups in ascending
/// order (a commit's walk, the index's recomputation) skip the people a table does not hold
/// without a seek: on a first load, every person.
///
/// Holds for lookups in any order (one before or at the last seek seeks again) and for writes
/// made meanwhile, as long as every insert into the table is reported with ``inserted(_:)``
/// (deletes need not be: they only make a seek find less).
struct AbsenceHint {
    /// The person of the last seek, and the first person after it with rows (`nil`: none).
    private var sought: (person: [UInt8], next: [UInt8]?)?

    /// Whether `person` surely has no rows, so that no seek is needed.
    func surelyAbsent(_ person: [UInt8]) -> Bool {
        guard let (last, next) = sought, last.lexicographicallyPrecedes(person) else { return false }
        return next.map { person.lexicographicallyPrecedes($0) } ?? true
    }

    /// Records a seek for `person`, which found `next` as the first person after it.
    mutating func seek(_ person: [UInt8], found next: [UInt8]?) { sought = (person, next) }

    /// Records that `person` now has rows.
    mutating func inserted(_ person: [UInt8]) {
        guard let (last, next) = sought, last.lexicographicallyPrecedes(person) else { return }
        if next.map({ person.lexicographicallyPrecedes($0) }) ?? true { sought = (last, person) }
    }
}
