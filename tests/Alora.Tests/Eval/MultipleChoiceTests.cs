using Alora.Data;
using Alora.Eval;
using Alora.Tokenization;

namespace Alora.Tests.Eval;

public class MultipleChoiceTests
{
    /// <summary>One token per UTF-16 char, so every string round-trips and the stub scorer can read the choice back.</summary>
    sealed class CharTokenizer : TextTokenizer
    {
        public CharTokenizer(bool addBos)
        {
            BosId = 1;
            EosId = 2;
            AddBos = addBos;
        }

        public override int VocabSize => 65536;

        public override int[] Encode(string text) => text.Select(c => (int)c).ToArray();

        public override string Decode(IReadOnlyList<int> ids) => new(ids.Select(i => (char)i).ToArray());

        public override int? TokenToId(string token) => token.Length == 1 ? token[0] : null;
    }

    /// <summary>Hand-chosen log-likelihoods keyed by the continuation text " " + choice.</summary>
    sealed class StubScorer(Dictionary<string, double> lls, CharTokenizer tok) : ILogLikelihoodScorer
    {
        public List<LoglikelihoodRequest> Seen { get; } = [];

        public double[] Score(IReadOnlyList<LoglikelihoodRequest> requests, IProgress<EvalProgress>? progress = null)
        {
            Seen.AddRange(requests);
            return requests.Select(r => lls[tok.Decode(r.Continuation)]).ToArray();
        }
    }

    static McqItem Item(string[] choices, int answer) => new("Q:", choices, answer);

    [Fact]
    public void AccAndAccNormFollowLmEvalIncludingTiesAndLengths()
    {
        var items = new[]
        {
            Item(["a", "bbbb"], 1), // lls -2, -4: acc picks 0; per char -2, -1: acc_norm picks 1
            Item(["cc", "d"], 0), // lls -4, -2: acc picks 1; per char -2, -2 tie: the first (0) wins, as numpy.argmax
            Item(["ee", "f", "ggg"], 0), // lls -1, -5, -6: both pick 0
            Item(["\U0001F600", "hi"], 1), // emoji is 1 code point (2 UTF-16 units): -2/1 < -3/2, acc_norm picks 1; acc picks 0
            Item(["j", "klm"], 1), // -1/1 < -2.5/3: picks 1; counting the leading space would give -1/2 > -2.5/4 and pick 0
            Item(["n", "o"], 1), // lls -1, -2: both pick 0, both wrong
        };
        var lls = new Dictionary<string, double>
        {
            [" a"] = -2,
            [" bbbb"] = -4,
            [" cc"] = -4,
            [" d"] = -2,
            [" ee"] = -1,
            [" f"] = -5,
            [" ggg"] = -6,
            [" \U0001F600"] = -2,
            [" hi"] = -3,
            [" j"] = -1,
            [" klm"] = -2.5,
            [" n"] = -1,
            [" o"] = -2,
        };
        var tok = new CharTokenizer(addBos: false);
        var r = MultipleChoice.Evaluate("mcq", items, tok, new StubScorer(lls, tok));

        Assert.Equal(new[] { 0, 1, 0, 0, 0, 0 }, r.PerItem.Select(p => p.Pred));
        Assert.Equal(new[] { 1, 0, 0, 1, 1, 0 }, r.PerItem.Select(p => p.PredNorm));
        Assert.Equal(6, r.N);
        Assert.Equal(1.0 / 6, r.Acc, 12);
        Assert.Equal(5.0 / 6, r.AccNorm, 12);
        // sqrt(p(1-p)/(n-1)) = sqrt((1/6)(5/6)/5) = 1/6 for both
        Assert.Equal(1.0 / 6, r.AccStderr, 12);
        Assert.Equal(1.0 / 6, r.AccNormStderr, 12);
        Assert.Equal(new[] { -2.5 }, r.PerItem[4].LogLikelihoods.Skip(1));
    }

    [Fact]
    public void RequestsCarryBosAndTheSpaceBeforeTheChoice()
    {
        var tok = new CharTokenizer(addBos: true);
        var scorer = new StubScorer(new() { [" x"] = -1, [" y"] = -2 }, tok);
        var r = MultipleChoice.Evaluate("mcq", [new McqItem("Q?", ["x", "y"], 0)], tok, scorer);
        Assert.Equal(new[] { 1, 'Q', '?' }, scorer.Seen[0].Context);
        Assert.Equal(new[] { (int)' ', 'x' }, scorer.Seen[0].Continuation);
        Assert.Equal(1.0, r.Acc);
        Assert.True(double.IsNaN(r.AccStderr)); // one item: lm-eval's sample stddev is undefined
    }

    [Fact]
    public void EmptyContextIsTheBosTokenAlone()
    {
        var r = MultipleChoice.EncodePair(new CharTokenizer(addBos: false), "", " x");
        Assert.Equal(new[] { 1 }, r.Context);
        Assert.Equal(new[] { (int)' ', 'x' }, r.Continuation);
    }

    [Fact]
    public void ArgMaxIsNumpys()
    {
        Assert.Equal(1, MultipleChoice.ArgMax([1.0, 3.0, 3.0]));
        Assert.Equal(2, MultipleChoice.ArgMax([1.0, 3.0, double.NaN]));
        Assert.Equal(0, MultipleChoice.ArgMax([double.NegativeInfinity, double.NegativeInfinity]));
    }

    // lm-eval's _encode_pair on GPT-2's tokenizer. Expected ids from GPT-2's vocab.json and its pre-tokenizer
    // (' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+', '\s+(?!\S)', '\s+'): "Question"=24361 ":"=25 " What"=1867
    // " is"=318 " 2"=362 "+"=10 "2"=17 "?"=30 "\n"=198 "Answer"=33706 " four"=1440 " "=220.
    static readonly int[] QuestionIds = [24361, 25, 1867, 318, 362, 10, 17, 30, 198, 33706, 25];

    [FixtureFact]
    public void Gpt2SplitsContextAndContinuationAsLmEval()
    {
        using var tok = TextTokenizer.Load(Fixtures.Model("tiny-gpt2"));
        var r = MultipleChoice.EncodePair(tok, "Question: What is 2+2?\nAnswer:", " four");
        Assert.Equal(QuestionIds, r.Context); // GPT-2 adds no bos
        Assert.Equal(new[] { 1440 }, r.Continuation);
    }

    [FixtureFact]
    public void Gpt2TrailingSpaceOfTheContextMovesOntoTheContinuation()
    {
        // context "...Answer: " + " four" -> context "...Answer:", continuation "  four": the regex splits
        // "  four" into " " (\s+(?!\S) keeps the last space for the word) and " four".
        using var tok = TextTokenizer.Load(Fixtures.Model("tiny-gpt2"));
        var r = MultipleChoice.EncodePair(tok, "Question: What is 2+2?\nAnswer: ", " four");
        Assert.Equal(QuestionIds, r.Context);
        Assert.Equal(new[] { 220, 1440 }, r.Continuation);
    }

    [FixtureFact]
    public void LlamaContextStartsWithBos()
    {
        using var tok = TextTokenizer.Load(Fixtures.Model("tiny-random-llama"));
        var r = MultipleChoice.EncodePair(tok, "Hello", " world");
        Assert.Equal(new[] { 1, 15043 }, r.Context); // bos, "▁Hello"
        Assert.Equal(new[] { 3186 }, r.Continuation); // "▁world"
    }
}
