using Alora.Generation;
using Alora.Models;
using static TorchSharp.torch;

namespace Alora.Tests.Models;

/// <summary>
/// The key/value cache against the model without one: reading a sequence in pieces through the cache must give the
/// hidden states of one full forward pass (float32, 1e-5), and cached greedy decoding the tokens of re-reading the
/// whole prefix at every step. The published outputs of these fixtures are checked in ReferenceLogitsTests.
/// </summary>
public class KvCacheTests
{
    [FixtureTheory]
    [InlineData("tiny-gpt2")]
    [InlineData("tiny-random-llama")]
    [InlineData("tiny-random-llama3")]
    [InlineData("tiny-random-gptj")]
    public void PiecesThroughTheCacheEqualOneForward(string name)
    {
        using var lm = ModelLoader.Load(Fixtures.Model(name), CPU, ScalarType.Float32);
        using var _ = no_grad();
        var ids = TinyModels.Ids(2, 13, lm.VocabSize, seed: 11); // [2,13]
        var full = lm.Hidden(ids); // [2,13,C]
        using var cache = lm.NewCache(13);
        // a prompt, one token (no mask), then several tokens after the held ones (causal from the bottom right)
        var parts = new[] { (0, 5), (5, 1), (6, 7) }.Select(p => lm.Hidden(ids.narrow(1, p.Item1, p.Item2), cache)).ToArray();
        Assert.Equal(13, cache.Length);
        var pieced = cat(parts, 1);
        double diff = (pieced - full).abs().max().item<float>();
        Assert.True(diff <= 1e-5, $"{name}: max |cached - full| = {diff}");
    }

    [FixtureTheory]
    [InlineData("tiny-gpt2")]
    [InlineData("tiny-random-llama")]
    [InlineData("tiny-random-gptj")]
    public void CachedGreedyDecodingEqualsRereadingThePrefix(string name)
    {
        using var lm = ModelLoader.Load(Fixtures.Model(name), CPU, ScalarType.Float32);
        int[] prompt = [5, 17, 3, 42];
        var streamed = new List<int>();
        var cached = GreedyDecoder.Generate(lm, prompt, 24, onToken: streamed.Add);

        var reference = new List<long>(prompt.Select(i => (long)i));
        using (no_grad())
            for (int step = 0; step < 24; step++)
            {
                using var scope = NewDisposeScope();
                var logits = lm.forward(tensor(reference.ToArray()).unsqueeze(0)); // [1,T,V], the whole prefix
                reference.Add(logits[0, -1].argmax().item<long>());
            }
        Assert.Equal(reference.Skip(prompt.Length).Select(i => (int)i), cached);
        Assert.Equal(cached, streamed); // every token reported once, in order, as chosen
    }

    [Fact]
    public void DecodingStopsAtAStopIdAndRefusesWhatDoesNotFit()
    {
        using var lm = TinyModels.Llama();
        var free = GreedyDecoder.Generate(lm, [1, 5, 9], 6);
        var stopped = GreedyDecoder.Generate(lm, [1, 5, 9], 6, new HashSet<int> { free[2] });
        Assert.Equal(free.Take(stopped.Count), stopped);
        Assert.Equal(free[2], stopped[^1]);
        // context 128: a prompt of 100 and 29 new tokens need 128 positions; 30 need 129
        Assert.Equal(29, GreedyDecoder.Generate(lm, Enumerable.Repeat(5, 100).ToArray(), 29).Count);
        var e = Assert.Throws<AloraException>(() => GreedyDecoder.Generate(lm, Enumerable.Repeat(5, 100).ToArray(), 30));
        Assert.Contains("at most 29 new tokens", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACacheRefusesPositionsPastItsCapacity()
    {
        using var lm = TinyModels.Llama();
        using var _ = no_grad();
        using var cache = lm.NewCache(4);
        lm.Hidden(TinyModels.Ids(1, 3), cache);
        var e = Assert.Throws<AloraException>(() => lm.Hidden(TinyModels.Ids(1, 2), cache));
        Assert.Contains("holds 4 positions", e.Message, StringComparison.Ordinal);
    }
}
