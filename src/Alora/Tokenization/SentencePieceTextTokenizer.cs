using Microsoft.ML.Tokenizers;

namespace Alora.Tokenization;

/// <summary>A sentencepiece tokenizer.model (Llama 2 and relatives) through Microsoft.ML.Tokenizers.</summary>
public sealed class SentencePieceTextTokenizer : TextTokenizer
{
    readonly LlamaTokenizer _tok;

    public SentencePieceTextTokenizer(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            _tok = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not IOException)
        {
            throw new AloraException($"{path}: not a sentencepiece model ({e.Message})", e);
        }
        BosId = _tok.BeginningOfSentenceId;
        EosId = _tok.EndOfSentenceId;
        AddBos = true; // LlamaTokenizer's default (add_bos_token = True)
    }

    public override int VocabSize => _tok.Vocabulary.Count;

    public override int[] Encode(string text) => [.. _tok.EncodeToIds(text)];

    public override string Decode(IReadOnlyList<int> ids) => _tok.Decode(ids) ?? "";

    public override int? TokenToId(string token) => _tok.Vocabulary.TryGetValue(token, out var id) ? id : null;
}
