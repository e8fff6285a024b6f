// Tests run one at a time: libtorch's random generator is process-wide, so a seeded test would
// otherwise draw numbers concurrently with another test's, and libtorch already uses both cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
