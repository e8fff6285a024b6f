using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Alora.Data;

namespace Alora.Models;

/// <summary>llama3-style rope_scaling as Llama 3.1/3.2 ship it.</summary>
public sealed record RopeScaling(
    [property: JsonPropertyName("rope_type")] string? RopeType,
    [property: JsonPropertyName("type")] string? Type,
    double Factor = 1.0,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192
)
{
    [JsonIgnore]
    public string Kind => RopeType ?? Type ?? "default";
}

/// <summary>Fields every HuggingFace config.json has, whatever the architecture.</summary>
public record HfConfig
{
    public string[]? Architectures { get; init; }
    public string? ModelType { get; init; }
    public int VocabSize { get; init; }

    [JsonConverter(typeof(IntOrListConverter))]
    public int[]? BosTokenId { get; init; }

    [JsonConverter(typeof(IntOrListConverter))]
    public int[]? EosTokenId { get; init; }

    [JsonConverter(typeof(IntOrListConverter))]
    public int[]? PadTokenId { get; init; }
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
    public static T Bind<T>(string path, JsonObject json)
        where T : HfConfig
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

    /// <summary>
    /// The typed, validated configuration of the architecture config.json names: the first of "architectures",
    /// else "model_type" (llama, gptj, gpt2). Every problem is an <see cref="AloraException"/> naming the file.
    /// </summary>
    public static HfConfig ForModel(string path, JsonObject json)
    {
        switch (Architecture(path, json))
        {
            case "LlamaForCausalLM" or "MistralForCausalLM":
                var llama = Bind<LlamaConfig>(path, json);
                llama.Validate(path);
                return llama;
            case "GPTJForCausalLM":
                var gptj = Bind<GptJConfig>(path, json);
                gptj.Validate(path);
                return gptj;
            case "GPT2LMHeadModel":
                var gpt2 = Bind<Gpt2Config>(path, json);
                gpt2.Validate(path);
                return gpt2;
            case var other:
                throw new AloraException($"{path}: architecture {other} is not supported (LlamaForCausalLM, GPTJForCausalLM, GPT2LMHeadModel)");
        }
    }

    static string Architecture(string path, JsonObject json)
    {
        switch (json["architectures"])
        {
            case null:
                break;
            case JsonArray a when a.Any(x => x?.GetValueKind() != JsonValueKind.String):
                throw new AloraException($"{path}: field 'architectures' must be a list of strings, got {Shown(a)}");
            case JsonArray a when a.Count > 0:
                return a[0]!.GetValue<string>();
            case JsonArray:
                break;
            case var other:
                throw new AloraException($"{path}: field 'architectures' must be a list of strings, got {Shown(other)}");
        }
        return json["model_type"] switch
        {
            null => throw new AloraException($"{path}: names no architecture (neither 'architectures' nor 'model_type')"),
            var m when m.GetValueKind() != JsonValueKind.String => throw new AloraException(
                $"{path}: field 'model_type' must be a string, got {Shown(m)}"
            ),
            var m => m.GetValue<string>() switch
            {
                "llama" or "mistral" => "LlamaForCausalLM",
                "gptj" => "GPTJForCausalLM",
                "gpt2" => "GPT2LMHeadModel",
                var t => $"model_type '{t}'",
            },
        };
    }

    static string FirstSentence(string s)
    {
        var i = s.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? s[..i] : s;
    }

    static string Shown(JsonNode node)
    {
        var s = node.ToJsonString();
        return s.Length <= 60 ? s : s[..60] + "...";
    }

    protected static void Require(string path, bool ok, string what)
    {
        if (!ok)
            throw new AloraException($"{path}: {what}");
    }

    /// <summary>The activation names the model code implements (Activations.Apply).</summary>
    public static IReadOnlyCollection<string> SupportedActivations => Activations.Names;

    protected static void RequireActivation(string path, string name, string field) =>
        Require(
            path,
            name is not null && SupportedActivations.Contains(name),
            $"{field} '{name}' is not supported ({string.Join(", ", SupportedActivations)})"
        );

    /// <summary>Epsilons, rope bases and scaling factors: a named literal ("NaN", "Infinity") binds, but no model computes with it.</summary>
    protected static void RequirePositive(string path, double value, string field) =>
        Require(
            path,
            double.IsFinite(value) && value > 0,
            string.Create(CultureInfo.InvariantCulture, $"{field} must be a positive finite number, got {value}")
        );

    /// <summary>The checks GPT-2 and GPT-J share (the same field names).</summary>
    protected static void RequireGptShape(
        string path,
        int vocab,
        int embd,
        int layers,
        int heads,
        int positions,
        int? inner,
        double eps,
        string activation
    )
    {
        Require(path, vocab > 0 && embd > 0 && layers > 0 && heads > 0, "vocab_size, n_embd, n_layer and n_head must be positive");
        Require(path, embd % heads == 0, $"n_embd {embd} is not a multiple of n_head {heads}");
        Require(path, positions > 0, $"n_positions {positions} must be positive");
        Require(path, inner is null or > 0, $"n_inner {inner} must be positive");
        RequirePositive(path, eps, "layer_norm_epsilon");
        RequireActivation(path, activation, "activation_function");
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

    [JsonIgnore]
    public int KvHeads => NumKeyValueHeads ?? NumAttentionHeads;

    [JsonIgnore]
    public int Dh => HeadDim ?? HiddenSize / NumAttentionHeads;

    [JsonIgnore]
    public bool Tied => TieWordEmbeddings ?? false;

    public void Validate(string path)
    {
        Require(
            path,
            VocabSize > 0 && HiddenSize > 0 && NumHiddenLayers > 0 && NumAttentionHeads > 0 && IntermediateSize > 0,
            "vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads must be positive"
        );
        Require(path, NumKeyValueHeads is null or > 0, $"num_key_value_heads {NumKeyValueHeads} must be positive");
        Require(path, HeadDim is null or > 0, $"head_dim {HeadDim} must be positive");
        Require(path, MaxPositionEmbeddings > 0, $"max_position_embeddings {MaxPositionEmbeddings} must be positive");
        Require(
            path,
            NumAttentionHeads % KvHeads == 0,
            $"num_attention_heads {NumAttentionHeads} is not a multiple of num_key_value_heads {KvHeads}"
        );
        Require(
            path,
            Dh > 0,
            $"hidden_size {HiddenSize} is smaller than num_attention_heads {NumAttentionHeads}, so the head size is 0 (give head_dim)"
        );
        Require(path, Dh % 2 == 0, $"head_dim {Dh} must be even for rotary embeddings");
        // The projections hold heads x head_dim rows, an int in the model code.
        Require(path, (long)NumAttentionHeads * Dh <= int.MaxValue, $"num_attention_heads {NumAttentionHeads} x head_dim {Dh} is too large");
        RequirePositive(path, RmsNormEps, "rms_norm_eps");
        RequirePositive(path, RopeTheta, "rope_theta");
        RequireActivation(path, HiddenAct, "hidden_act");
        if (RopeScaling is { } rs)
        {
            Require(path, rs.Kind is "llama3" or "default" or "linear", $"rope_scaling type '{rs.Kind}' is not supported (llama3, linear)");
            RequirePositive(path, rs.Factor, "rope_scaling.factor");
            if (rs.Kind == "llama3")
            {
                RequirePositive(path, rs.LowFreqFactor, "rope_scaling.low_freq_factor");
                RequirePositive(path, rs.HighFreqFactor, "rope_scaling.high_freq_factor");
                // The medium band interpolates by (x - low) / (high - low).
                Require(path, rs.HighFreqFactor != rs.LowFreqFactor, "rope_scaling.high_freq_factor must differ from low_freq_factor");
                Require(path, rs.OriginalMaxPositionEmbeddings > 0, "rope_scaling.original_max_position_embeddings must be positive");
            }
        }
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

    [JsonIgnore]
    public int Dh => NEmbd / NHead;

    [JsonIgnore]
    public int Rotary => RotaryDim ?? Dh;

    public void Validate(string path)
    {
        RequireGptShape(path, VocabSize, NEmbd, NLayer, NHead, NPositions, NInner, LayerNormEpsilon, ActivationFunction);
        Require(path, Rotary > 0 && Rotary % 2 == 0 && Rotary <= Dh, $"rotary_dim {Rotary} must be positive, even and at most the head size {Dh}");
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
        RequireGptShape(path, VocabSize, NEmbd, NLayer, NHead, NPositions, NInner, LayerNormEpsilon, ActivationFunction);
    }
}

/// <summary>HF writes token ids as a number or a list of numbers (Llama 3's eos_token_id).</summary>
public sealed class IntOrListConverter : JsonConverter<int[]?>
{
    public override int[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number:
                return [reader.GetInt32()];
            case JsonTokenType.StartArray:
                var list = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number)
                        throw new JsonException("expected a token id (integer)");
                    list.Add(reader.GetInt32());
                }
                return [.. list];
            default:
                throw new JsonException("expected a token id or a list of token ids");
        }
    }

    public override void Write(Utf8JsonWriter writer, int[]? value, JsonSerializerOptions options)
    {
        if (value is null)
            writer.WriteNullValue();
        else if (value.Length == 1)
            writer.WriteNumberValue(value[0]);
        else
        {
            writer.WriteStartArray();
            foreach (var v in value)
                writer.WriteNumberValue(v);
            writer.WriteEndArray();
        }
    }
}
