using Alora.Data;
using Alora.Eval;
using Alora.Models;
using Alora.Tokenization;
using static TorchSharp.torch;

namespace Alora.Tests.Eval;

public class CausalLMScorerTests
{
    [Fact]
    public void InputIsLeftTruncatedAsLmEval()
    {
        // lm-eval: inp = (context_enc + continuation_enc)[-(max_length + 1):][:-1]
        var r = new LoglikelihoodRequest([1, 2, 3, 4, 5], [6, 7]);
        Assert.Equal(new long[] { 3, 4, 5, 6 }, CausalLMScorer.Input(r, contextLength: 4));
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6 }, CausalLMScorer.Input(r, contextLength: 16));
        Assert.Throws<AloraException>(() => CausalLMScorer.Input(new LoglikelihoodRequest([1], [2, 3, 4]), contextLength: 2));
        Assert.Throws<AloraException>(() => CausalLMScorer.Input(new LoglikelihoodRequest([], [2]), contextLength: 8));
    }

    // The batched scorer (items sorted by context, each context read once and its choices scored from the key/value
    // cache, packed in one row per item) against a plain per-choice computation: log_softmax of a full forward, summed.
    [FixtureTheory]
    [InlineData("tiny-gpt2")]
    [InlineData("tiny-random-llama")]
    [InlineData("tiny-random-llama3")]
    [InlineData("tiny-random-gptj")]
    public void BatchedScoresEqualAPerChoiceForward(string name)
    {
        var dir = Fixtures.Model(name);
        using var lm = ModelLoader.Load(dir, CPU, ScalarType.Float32);
        var requests = Requests(dir, lm.VocabSize);
        Assert.True(requests.Select(r => r.Continuation.Length).Distinct().Count() > 2);

        var scores = new CausalLMScorer(lm, batchSize: 3).Score(requests);

        using var _ = no_grad();
        for (int i = 0; i < requests.Count; i++)
        {
            var (ctx, cont) = (requests[i].Context, requests[i].Continuation);
            long[] ids = [.. ctx.Select(t => (long)t), .. cont.Select(t => (long)t)];
            using var scope = NewDisposeScope();
            var logp = lm.forward(tensor(ids[..^1]).unsqueeze(0))[0].to_type(ScalarType.Float64).log_softmax(-1); // [T-1,V]
            double expected = 0;
            for (int j = 0; j < cont.Length; j++)
                expected += logp[ctx.Length - 1 + j, cont[j]].item<double>();
            Assert.True(Math.Abs(scores[i] - expected) <= 1e-5, $"{name} request {i}: {scores[i]} vs {expected}");
        }
    }

    /// <summary>PIQA items through the model's tokenizer, or random ids where the fixture has none; plus one-token continuations after one context.</summary>
    static List<LoglikelihoodRequest> Requests(string dir, int vocab)
    {
        if (
            File.Exists(Path.Combine(dir, "config.json"))
            && (File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "tokenizer.model")))
        )
        {
            using var tok = TextTokenizer.Load(dir);
            var items = McqDatasets.Read("piqa", Fixtures.Path_("datasets", "piqa", "dev.jsonl")).Take(4).ToList();
            var list = items.SelectMany(i => i.Choices.Select(c => MultipleChoice.EncodePair(tok, i.Prompt, " " + c))).ToList();
            list.AddRange(new[] { " A", " B", " C" }.Select(letter => MultipleChoice.EncodePair(tok, "Question: Which?\nAnswer:", letter)));
            list.AddRange(RandomItems(vocab));
            return list;
        }
        var rng = new Random(7);
        int[] Ids(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        var requests = Enumerable.Range(0, 8).Select(i => new LoglikelihoodRequest(Ids(5 + 3 * i), Ids(1 + i % 4))).ToList();
        var shared = Ids(9);
        requests.AddRange(Enumerable.Range(0, 3).Select(_ => new LoglikelihoodRequest(shared, Ids(1))));
        requests.AddRange(RandomItems(vocab));
        return requests;
    }

    /// <summary>Items of 2-4 choices of 1-6 tokens after contexts of 3-20 tokens: batches mix lengths on both sides.</summary>
    static IEnumerable<LoglikelihoodRequest> RandomItems(int vocab)
    {
        var rng = new Random(11);
        int[] Ids(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        for (int item = 0; item < 7; item++)
        {
            var context = Ids(3 + rng.Next(18));
            int choices = 2 + item % 3;
            for (int c = 0; c < choices; c++)
                yield return new LoglikelihoodRequest(context, Ids(1 + rng.Next(6)));
        }
    }

    // Requests longer than the model's context (128 here) are left-truncated on their own rows as lm-eval does,
    // mixed with shared-context items in one call.
    [Fact]
    public void RequestsPastTheContextAreLeftTruncatedRowByRow()
    {
        using var lm = TinyModels.Llama();
        var rng = new Random(3);
        int[] Ids(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(3, 97)).ToArray();
        var longContext = Ids(140);
        var requests = new List<LoglikelihoodRequest>
        {
            new(longContext, Ids(3)),
            new(longContext, Ids(1)),
            new(Ids(126), Ids(4)), // 126 + 4 - 1 = 129 > 128: truncated by one
            new(Ids(10), Ids(2)),
            new(Ids(125), Ids(4)), // exactly fits: shared path
        };
        var scores = new CausalLMScorer(lm, batchSize: 2).Score(requests);
        using var _ = no_grad();
        for (int i = 0; i < requests.Count; i++)
        {
            var input = CausalLMScorer.Input(requests[i], 128); // lm-eval's row
            var cont = requests[i].Continuation;
            using var scope = NewDisposeScope();
            var logp = lm.forward(tensor(input).unsqueeze(0))[0].to_type(ScalarType.Float64).log_softmax(-1); // [T,V]
            double expected = 0;
            for (int j = 0; j < cont.Length; j++)
                expected += logp[input.Length - cont.Length + j, cont[j]].item<double>();
            Assert.True(Math.Abs(scores[i] - expected) <= 1e-5, $"request {i}: {scores[i]} vs {expected}");
        }
    }
}
