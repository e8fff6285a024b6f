using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Models;

namespace Alora.Tokenization;

/// <summary>tokenizer.json through HuggingFace's tokenizers (Tokenizers.DotNet).</summary>
public sealed class HfJsonTokenizer : TextTokenizer
{
    readonly Tokenizers.DotNet.Tokenizer _tok;
    readonly Dictionary<string, int> _vocab = new(StringComparer.Ordinal);
    readonly HashSet<int> _special = [];
    readonly int[] _autoPrefix,
        _autoSuffix;

    public HfJsonTokenizer(string path)
    {
        var json = JsonFile.Read(path);
        try
        {
            _tok = new Tokenizers.DotNet.Tokenizer(vocabPath: path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new AloraException($"{path}: HuggingFace tokenizers could not read it ({e.Message})", e);
        }
        switch (json["model"]?["vocab"])
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                    _vocab[k] = v!.GetValue<int>();
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                    _vocab[a[i]![0]!.GetValue<string>()] = i;
                break; // Unigram: [piece, score]
        }
        if (json["added_tokens"] is JsonArray added)
            foreach (var t in added)
            {
                int id = t!["id"]!.GetValue<int>();
                _vocab[t["content"]!.GetValue<string>()] = id;
                if (t["special"]?.GetValue<bool>() ?? false)
                    _special.Add(id);
            }
        // The post-processor may add special tokens (Llama 3's <|begin_of_text|>): find them on an
        // empty text and strip them, so Encode returns the text's tokens only.
        var empty = _tok.Encode("").Select(i => (int)i).ToArray();
        int p = 0;
        while (p < empty.Length && _special.Contains(empty[p]) && p == 0)
            p++;
        _autoPrefix = empty[..p];
        _autoSuffix = empty[p..];
        if (_autoPrefix.Length == 1)
        {
            BosId = _autoPrefix[0];
            AddBos = true;
        }
    }

    public override int VocabSize => _vocab.Count == 0 ? 0 : _vocab.Values.Max() + 1;

    public override int[] Encode(string text)
    {
        var ids = _tok.Encode(text).Select(i => (int)i).ToArray();
        int start = ids.AsSpan().StartsWith(_autoPrefix) ? _autoPrefix.Length : 0;
        int end = ids.AsSpan().EndsWith(_autoSuffix) && ids.Length - _autoSuffix.Length >= start ? ids.Length - _autoSuffix.Length : ids.Length;
        return ids[start..end];
    }

    public override string Decode(IReadOnlyList<int> ids) => _tok.Decode(ids.Select(i => (uint)i).ToArray());

    public override int? TokenToId(string token) => _vocab.TryGetValue(token, out var id) ? id : null;

    public override void Dispose()
    {
        _tok.Dispose();
        base.Dispose();
    }
}
