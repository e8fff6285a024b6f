using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Alora.Models;

/// <summary>llama3-style rope_scaling as Llama 3.1/3.2 ship it.</summary>
public sealed record RopeScaling(
    [property: JsonPropertyName("rope_type")] string? RopeType,
    [property: JsonPropertyName("type")] string? Type,
    double Factor = 1.0,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192)
{
    [JsonIgnore] public string Kind => RopeType ?? Type ?? "default";
}

/// <summary>Fields every HuggingFace config.json has, whatever the architecture.</summary>
public record HfConfig
{
    public string[]? Architectures { get; init; }
    public string? ModelType { get; init; }
    public int VocabSize { get; init; }
    [JsonConverter(typeof(IntOrListConverter))] public int[]? BosTokenId { get; init; }
    [JsonConverter(typeof(IntOrListConverter))] public int[]? EosTokenId { get; init; }
    [JsonConverter(typeof(IntOrListConverter))] public int[]? PadTokenId { get; init; }
    public string? TorchDtype { get; init; }
    public bool? TieWordEmbeddings { get; init; }

    internal static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Binds config.json to <typeparamref name="T"/>; a field of the wrong type names the file and the field.</summary>
    public static T Bind<T>(string path, JsonObject json) where T : HfConfig
    {
        try
        {
            return json.Deserialize<T>(Options) ?? throw new AloraException($"{path}: empty configuration");
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } p ? p.TrimStart('$', '.') : "?";
            throw new AloraException($"{path}: field '{field}' has the wrong type or value ({FirstSentence(e.Message)})", e);
        }
    }

    public static JsonObject ReadJson(string path)
    {
        if (!File.Exists(path)) throw new AloraException($"{path}: file not found");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new AloraException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new AloraException($"{path}: not valid JSON ({FirstSentence(e.Message)})", e);
        }
    }

    static string FirstSentence(string s) { var i = s.IndexOf(". ", StringComparison.Ordinal); return i > 0 ? s[..i] : s; }

    protected static void Require(string path, bool ok, string what)
    {
        if (!ok) throw new AloraException($"{path}: {what}");
    }
}

public sealed record LlamaConfig : HfConfig
{
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int? NumKeyValueHeads { get; init; }
    public int? HeadDim { get; init; }
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public bool AttentionBias { get; init; }
    public bool MlpBias { get; init; }
    public string HiddenAct { get; init; } = "silu";

    [JsonIgnore] public int KvHeads => NumKeyValueHeads ?? NumAttentionHeads;
    [JsonIgnore] public int Dh => HeadDim ?? HiddenSize / NumAttentionHeads;
    [JsonIgnore] public bool Tied => TieWordEmbeddings ?? false;

    public void Validate(string path)
    {
        Require(path, VocabSize > 0 && HiddenSize > 0 && NumHiddenLayers > 0 && NumAttentionHeads > 0 && IntermediateSize > 0,
            "vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads must be positive");
        Require(path, NumAttentionHeads % KvHeads == 0, $"num_attention_heads {NumAttentionHeads} is not a multiple of num_key_value_heads {KvHeads}");
        Require(path, Dh % 2 == 0, $"head_dim {Dh} must be even for rotary embeddings");
        if (RopeScaling is { } rs)
            Require(path, rs.Kind is "llama3" or "default" or "linear", $"rope_scaling type '{rs.Kind}' is not supported (llama3, linear)");
    }
}

public sealed record GptJConfig : HfConfig
{
    public int NEmbd { get; init; }
    public int NLayer { get; init; }
    public int NHead { get; init; }
    public int NPositions { get; init; } = 2048;
    public int? RotaryDim { get; init; }
    public int? NInner { get; init; }
    public string ActivationFunction { get; init; } = "gelu_new";
    public double LayerNormEpsilon { get; init; } = 1e-5;

    [JsonIgnore] public int Dh => NEmbd / NHead;
    [JsonIgnore] public int Rotary => RotaryDim ?? Dh;

    public void Validate(string path)
    {
        Require(path, VocabSize > 0 && NEmbd > 0 && NLayer > 0 && NHead > 0, "vocab_size, n_embd, n_layer and n_head must be positive");
        Require(path, NEmbd % NHead == 0, $"n_embd {NEmbd} is not a multiple of n_head {NHead}");
        Require(path, Rotary % 2 == 0 && Rotary <= Dh, $"rotary_dim {Rotary} must be even and at most the head size {Dh}");
    }
}

public sealed record Gpt2Config : HfConfig
{
    public int NEmbd { get; init; }
    public int NLayer { get; init; }
    public int NHead { get; init; }
    public int NPositions { get; init; } = 1024;
    public int? NInner { get; init; }
    public string ActivationFunction { get; init; } = "gelu_new";
    public double LayerNormEpsilon { get; init; } = 1e-5;
    public bool ScaleAttnWeights { get; init; } = true;
    public bool ScaleAttnByInverseLayerIdx { get; init; }

    public void Validate(string path)
    {
        Require(path, VocabSize > 0 && NEmbd > 0 && NLayer > 0 && NHead > 0, "vocab_size, n_embd, n_layer and n_head must be positive");
        Require(path, NEmbd % NHead == 0, $"n_embd {NEmbd} is not a multiple of n_head {NHead}");
    }
}

/// <summary>HF writes token ids as a number or a list of numbers (Llama 3's eos_token_id).</summary>
public sealed class IntOrListConverter : JsonConverter<int[]?>
{
    public override int[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null: return null;
            case JsonTokenType.Number: return [reader.GetInt32()];
            case JsonTokenType.StartArray:
                var list = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number) throw new JsonException("expected a token id (integer)");
                    list.Add(reader.GetInt32());
                }
                return [.. list];
            default: throw new JsonException("expected a token id or a list of token ids");
        }
    }

    public override void Write(Utf8JsonWriter writer, int[]? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else if (value.Length == 1) writer.WriteNumberValue(value[0]);
        else { writer.WriteStartArray(); foreach (var v in value) writer.WriteNumberValue(v); writer.WriteEndArray(); }
    }
}
