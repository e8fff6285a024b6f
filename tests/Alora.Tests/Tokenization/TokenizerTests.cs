using Alora.Tokenization;

namespace Alora.Tests.Tokenization;

public class TokenizerTests
{
    // Ids GPT-2's tokenizer is known to produce (the transformers documentation and model card examples).
    [FixtureTheory]
    [InlineData("Hello world", new[] { 15496, 995 })]
    [InlineData("Hello, my dog is cute", new[] { 15496, 11, 616, 3290, 318, 13779 })]
    [InlineData(" the", new[] { 262 })]
    public void Gpt2TokenizerJsonEncodesKnownIds(string text, int[] expected)
    {
        using var tok = TextTokenizer.Load(Fixtures.Model("tiny-gpt2"));
        Assert.Equal(expected, tok.Encode(text));
        Assert.Equal(text, tok.Decode(expected));
    }

    [FixtureFact]
    public void Gpt2SpecialTokensComeFromTokenizerConfig()
    {
        using var tok = TextTokenizer.Load(Fixtures.Model("tiny-gpt2"));
        Assert.Equal(50256, tok.BosId);
        Assert.Equal(50256, tok.EosId);
        Assert.False(tok.AddBos); // GPT-2 adds no bos; perplexity then uses eos as the prefix token
        Assert.Equal(50257, tok.VocabSize);
    }

    // Llama 2's sentencepiece model: "Hello world" -> [15043, 3186] (after bos 1), as its model card shows.
    [FixtureFact]
    public void LlamaSentencePieceEncodesKnownIds()
    {
        using var tok = TextTokenizer.Load(Fixtures.Model("tiny-random-llama"));
        Assert.Equal(new[] { 15043, 3186 }, tok.Encode("Hello world"));
        Assert.Equal(new[] { 1, 15043, 3186 }, tok.EncodeWithBos("Hello world"));
        Assert.Equal(1, tok.BosId); // the tokenizer's own ids win over config.json's (0/1), see fixtures/README.md
        Assert.Equal(2, tok.EosId);
        Assert.Equal("Hello world", tok.Decode([15043, 3186]));
    }

    [Fact]
    public void MissingTokenizerIsAClearError()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<AloraException>(() => TextTokenizer.Load(dir.Path));
        Assert.Contains("no tokenizer.json or tokenizer.model", e.Message);
    }
}
