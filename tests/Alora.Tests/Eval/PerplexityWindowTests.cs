using Alora.Eval;

namespace Alora.Tests.Eval;

public class PerplexityWindowTests
{
    // Hand-computed from lm-evaluation-harness's get_rolling_token_windows(tokens, prefix, max_seq_len=4, context_len=1)
    // on a 10-token document: sequence [p, t0..t9] (11 ids). Windows predict t0..t3, t4..t7, then t6..t9's last two.
    [Fact]
    public void DisjointWindowsMatchRollingWindowsOfLmEval()
    {
        var ids = Enumerable.Range(0, 11).Select(i => (long)i).ToArray();
        var w = Perplexity.Windows(ids, maxLength: 4, stride: 4).ToList();
        Assert.Equal(new[] { (0, 4, 4), (4, 8, 4), (6, 10, 2) }, w);
        Assert.Equal(10, w.Sum(x => x.Predict));
    }

    [Fact]
    public void StridedWindowsPredictEveryTokenOnceWithMoreContext()
    {
        var ids = Enumerable.Range(0, 11).Select(i => (long)i).ToArray();
        var w = Perplexity.Windows(ids, maxLength: 4, stride: 2).ToList();
        // first window predicts ids 1..4, then 2 new tokens each with 4 tokens of context
        Assert.Equal(new[] { (0, 4, 4), (2, 6, 2), (4, 8, 2), (6, 10, 2) }, w);
        Assert.Equal(10, w.Sum(x => x.Predict));
    }

    [Fact]
    public void ShortSequencesGetOneWindowAndSingletonsNone()
    {
        Assert.Equal(new[] { (0, 2, 2) }, Perplexity.Windows([5, 6, 7], 8, 8).ToList());
        Assert.Empty(Perplexity.Windows([5], 8, 8));
    }

    [Fact]
    public void WordCountFollowsLmEvalRegexSplit()
    {
        Assert.Equal(3, Perplexity.CountWords("a b  c"));
        Assert.Equal(4, Perplexity.CountWords(" a b c")); // re.split keeps the empty leading field
    }
}
