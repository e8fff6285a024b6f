namespace Alora.Tests;

/// <summary>
/// Tests that compare two runs from the same seed: torch's CPU generator is one per process, so a test
/// drawing random numbers on another thread at the same time would change what these draw. xunit runs
/// this collection alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRngCollection
{
    public const string Name = "torch-rng";
}
