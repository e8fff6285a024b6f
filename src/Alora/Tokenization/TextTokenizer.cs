using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Models;

namespace Alora.Tokenization;

/// <summary>
/// A model's own tokenizer. <see cref="Encode"/> returns the text's tokens without special tokens;
/// callers add bos themselves (when <see cref="AddBos"/>), so every tokenizer behaves the same.
/// </summary>
public abstract class TextTokenizer : IDisposable
{
    public int? BosId { get; protected set; }
    public int? EosId { get; protected set; }
    public int? PadId { get; protected set; }

    /// <summary>Whether the model expects bos before a text (tokenizer_config.json add_bos_token, or the tokenizer's own post-processor).</summary>
    public bool AddBos { get; protected set; }
    public abstract int VocabSize { get; }

    public abstract int[] Encode(string text);
    public abstract string Decode(IReadOnlyList<int> ids);

    /// <summary>The id of a token string, if the vocabulary has it.</summary>
    public abstract int? TokenToId(string token);

    /// <summary>Encode with bos prepended when the model expects it.</summary>
    public int[] EncodeWithBos(string text)
    {
        var ids = Encode(text);
        return AddBos && BosId is { } b ? [b, .. ids] : ids;
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>
    /// Loads the tokenizer of a HuggingFace model folder: tokenizer.json (HuggingFace tokenizers)
    /// or else tokenizer.model (sentencepiece). Special tokens come from tokenizer_config.json,
    /// then from the tokenizer itself, then from config.json's *_token_id.
    /// </summary>
    public static TextTokenizer Load(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new AloraException($"{modelDir}: model folder not found");
        var json = Path.Combine(modelDir, "tokenizer.json");
        var spm = Path.Combine(modelDir, "tokenizer.model");
        var tokConfigPath = Path.Combine(modelDir, "tokenizer_config.json");
        var tokConfig = File.Exists(tokConfigPath) ? JsonFile.Read(tokConfigPath) : new JsonObject();
        var configPath = Path.Combine(modelDir, "config.json");
        var config = File.Exists(configPath) ? JsonFile.Read(configPath) : new JsonObject();
        TextTokenizer tok =
            File.Exists(json) ? new HfJsonTokenizer(json)
            : File.Exists(spm) ? new SentencePieceTextTokenizer(spm)
            : throw new AloraException($"{modelDir}: no tokenizer.json or tokenizer.model (use pre-tokenized input_ids, or --prompt-ids)");
        tok.ResolveSpecialTokens(tokConfig, config);
        return tok;
    }

    void ResolveSpecialTokens(JsonObject tokConfig, JsonObject config)
    {
        BosId = Resolve(tokConfig["bos_token"], config["bos_token_id"], BosId);
        EosId = Resolve(tokConfig["eos_token"], config["eos_token_id"], EosId);
        PadId = Resolve(tokConfig["pad_token"], config["pad_token_id"], PadId);
        if (tokConfig["add_bos_token"] is JsonValue v && v.TryGetValue(out bool addBos))
            AddBos = addBos;
        if (BosId is null)
            AddBos = false;
    }

    int? Resolve(JsonNode? tokenNode, JsonNode? configId, int? own)
    {
        string? token = tokenNode switch
        {
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonObject o => o["content"]?.GetValue<string>(),
            _ => null,
        };
        if (token is not null && TokenToId(token) is { } id)
            return id;
        if (own is not null)
            return own;
        return configId switch
        {
            JsonValue v when v.TryGetValue(out int i) => i,
            JsonArray a when a.Count > 0 => a[0]!.GetValue<int>(),
            _ => null,
        };
    }
}
