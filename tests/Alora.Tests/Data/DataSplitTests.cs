using Alora.Data;

namespace Alora.Tests.Data;

public class DataSplitTests
{
    [Fact]
    public void ShuffleMatchesTheSpecifiedAlgorithm()
    {
        // Reference permutations from an independent Python implementation of SplitMix64 + Fisher–Yates (j = next() % (i + 1)).
        var items = Enumerable.Range(0, 10).ToArray();
        Assert.Equal([0, 9, 5, 8, 6, 4, 7, 2, 1, 3], DataSplit.Shuffle(items, 42));
        Assert.Equal([3, 4, 2, 7, 5, 0, 8, 1, 9, 6], DataSplit.Shuffle(items, -1));
        Assert.Equal(0xE220A8397B1DCDAFUL, new SplitMix64(0).Next()); // the published first output for seed 0
        Assert.Equal(Enumerable.Range(0, 10), items); // input untouched
    }

    [Fact]
    public void ShuffleIsDeterministicAndAPermutation()
    {
        var items = Enumerable.Range(0, 1000).ToArray();
        var a = DataSplit.Shuffle(items, 7);
        Assert.Equal(a, DataSplit.Shuffle(items, 7));
        Assert.NotEqual(a, DataSplit.Shuffle(items, 8));
        Assert.NotEqual(items, a);
        Assert.Equal(items, a.Order());
    }

    [Fact]
    public void TrainValidationIsDeterministicDisjointAndComplete()
    {
        var items = Enumerable.Range(0, 101).ToArray();
        var split = DataSplit.TrainValidation(items, 0.1, seed: 3);
        var again = DataSplit.TrainValidation(items, 0.1, seed: 3);

        Assert.Equal(10, split.Validation.Count); // round(10.1)
        Assert.Equal(91, split.Train.Count);
        Assert.Equal(split.Train, again.Train);
        Assert.Equal(split.Validation, again.Validation);
        Assert.Empty(split.Train.Intersect(split.Validation));
        Assert.Equal(items, split.Train.Concat(split.Validation).Order());
        Assert.Equal(DataSplit.Shuffle(items, 3).Take(10), split.Validation); // validation = head of the shuffle
        Assert.NotEqual(split.Validation, DataSplit.TrainValidation(items, 0.1, seed: 4).Validation);
    }

    [Fact]
    public void TrainValidationEdges()
    {
        Assert.Empty(DataSplit.TrainValidation([1, 2, 3], 0, 1).Validation);
        var tiny = DataSplit.TrainValidation([1, 2], 0.01, 1); // a positive fraction keeps one item on each side
        Assert.Single(tiny.Validation);
        Assert.Single(tiny.Train);
        Assert.Throws<AloraException>(() => DataSplit.TrainValidation([1, 2], 1.0, 1));
        Assert.Throws<AloraException>(() => DataSplit.TrainValidation([1, 2], double.NaN, 1));
        Assert.Throws<AloraException>(() => DataSplit.TrainValidation([1], 0.5, 1));
    }
}
