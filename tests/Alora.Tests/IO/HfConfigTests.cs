using System.Text;
using Alora.IO;
using Alora.Models;

namespace Alora.Tests.FileFormats;

/// <summary>config.json: strict UTF-8, one value per key, and configurations no model can be built from refused with the file named.</summary>
public class HfConfigTests
{
    const string Llama = """
        {"architectures": ["LlamaForCausalLM"], "vocab_size": 32, "hidden_size": 16, "intermediate_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6}
        """;

    static string Write(TempDir dir, string json) => WriteBytes(dir, Encoding.UTF8.GetBytes(json));

    static string WriteBytes(TempDir dir, byte[] bytes)
    {
        var path = dir.File("config.json");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static HfConfig Parse(string path) => HfConfig.ForModel(path, JsonFile.Read(path));

    static string Error(string path) => Assert.Throws<AloraException>(() => Parse(path)).Message;

    [FixtureFact]
    public void FixtureConfigsHaveTheirPublishedValues()
    {
        // Values from the fixtures' README (tiny-random-llama: hidden 16, intermediate 64, 2 layers, 4 heads, vocab 32000).
        var llama = Assert.IsType<LlamaConfig>(Parse(Path.Combine(Fixtures.Model("tiny-random-llama"), "config.json")));
        Assert.Equal(
            (16, 64, 2, 4, 4, 32000),
            (llama.HiddenSize, llama.IntermediateSize, llama.NumHiddenLayers, llama.NumAttentionHeads, llama.KvHeads, llama.VocabSize)
        );
        Assert.Equal((1e-6, 10000.0), (llama.RmsNormEps, llama.RopeTheta));
        var gptj = Assert.IsType<GptJConfig>(Parse(Path.Combine(Fixtures.Model("tiny-random-gptj"), "config.json")));
        Assert.Equal((64, 2, 4, 8), (gptj.NEmbd, gptj.NLayer, gptj.NHead, gptj.Rotary));
        var gpt2 = Assert.IsType<Gpt2Config>(Parse(Path.Combine(Fixtures.Model("tiny-gpt2"), "config.json")));
        Assert.Equal((2, 2, 2, 50257), (gpt2.NEmbd, gpt2.NLayer, gpt2.NHead, gpt2.VocabSize));
    }

    [Fact]
    public void InvalidUtf8IsAnErrorWithItsOffset()
    {
        using var dir = new TempDir();
        var bytes = Encoding.UTF8.GetBytes(Llama.Replace("LlamaForCausalLM", "LlamaForCausalLM?", StringComparison.Ordinal));
        var at = Array.IndexOf(bytes, (byte)'?');
        bytes[at] = 0xC3; // a lead byte followed by '"', not a continuation: before, read as U+FFFD and accepted
        var path = WriteBytes(dir, bytes);
        Assert.Equal($"{path}: not valid UTF-8 at byte offset {at} (line 1; bytes C3 22 5D 2C); save the file as UTF-8", Error(path));

        // A UTF-8 byte order mark is fine.
        path = WriteBytes(dir, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Llama)]);
        Assert.Equal(16, Assert.IsType<LlamaConfig>(Parse(path)).HiddenSize);
    }

    [Fact]
    public void KeysGivenTwiceAreRefused()
    {
        using var dir = new TempDir();
        // Before: JsonObject kept both and threw ArgumentException (not an input error) when binding.
        var path = Write(dir, Llama.Replace("\"hidden_size\": 16", "\"hidden_size\": 16, \"hidden_size\": 32", StringComparison.Ordinal));
        Assert.StartsWith($"{path}: not valid JSON (Duplicate property 'hidden_size'", Error(path), StringComparison.Ordinal);
    }

    [Fact]
    public void UnpairedSurrogateEscapesAreRefused()
    {
        using var dir = new TempDir();
        var json = Llama.Replace("\"LlamaForCausalLM\"", "\"\\udc00\"", StringComparison.Ordinal);
        var path = Write(dir, json);
        Assert.StartsWith(
            $"{path}: the string at byte offset {json.IndexOf("\"\\udc00", StringComparison.Ordinal)} holds an escape that is not valid Unicode",
            Error(path),
            StringComparison.Ordinal
        );
    }

    [Theory]
    [InlineData("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 0", "num_key_value_heads 0 must be positive")] // before: DivideByZeroException
    [InlineData("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 2, \"head_dim\": -2", "head_dim -2 must be positive")]
    [InlineData("\"hidden_size\": 16", "\"hidden_size\": 2", "hidden_size 2 is smaller than num_attention_heads 4")]
    [InlineData("\"rms_norm_eps\": 1e-6", "\"rms_norm_eps\": \"NaN\"", "rms_norm_eps must be a positive finite number, got NaN")]
    [InlineData(
        "\"rms_norm_eps\": 1e-6",
        "\"rms_norm_eps\": 1e-6, \"rope_theta\": \"-Infinity\"",
        "rope_theta must be a positive finite number, got -Infinity"
    )]
    [InlineData("\"rms_norm_eps\": 1e-6", "\"rms_norm_eps\": 0", "rms_norm_eps must be a positive finite number, got 0")]
    [InlineData("\"rms_norm_eps\": 1e-6", "\"rms_norm_eps\": 1e-6, \"hidden_act\": \"swiglu\"", "hidden_act 'swiglu' is not supported")]
    [InlineData("\"rms_norm_eps\": 1e-6", "\"rms_norm_eps\": 1e-6, \"max_position_embeddings\": -1", "max_position_embeddings -1 must be positive")]
    [InlineData(
        "\"rms_norm_eps\": 1e-6",
        "\"rms_norm_eps\": 1e-6, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 2, \"high_freq_factor\": 2}",
        "rope_scaling.high_freq_factor must differ from low_freq_factor"
    )]
    [InlineData(
        "\"rms_norm_eps\": 1e-6",
        "\"rms_norm_eps\": 1e-6, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 0}",
        "rope_scaling.factor must be a positive finite number, got 0"
    )]
    public void LlamaValuesNoModelCanUse(string from, string to, string message)
    {
        using var dir = new TempDir();
        var path = Write(dir, Llama.Replace(from, to, StringComparison.Ordinal));
        Assert.StartsWith($"{path}: {message}", Error(path), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"rotary_dim\": 8", "\"rotary_dim\": -2", "rotary_dim -2 must be positive, even and at most the head size 16")]
    [InlineData("\"n_positions\": 128", "\"n_positions\": 0", "n_positions 0 must be positive")]
    [InlineData("\"n_positions\": 128", "\"n_positions\": 128, \"n_inner\": -4", "n_inner -4 must be positive")]
    [InlineData(
        "\"n_positions\": 128",
        "\"n_positions\": 128, \"layer_norm_epsilon\": \"Infinity\"",
        "layer_norm_epsilon must be a positive finite number, got Infinity"
    )]
    [InlineData("\"n_positions\": 128", "\"n_positions\": 128, \"activation_function\": \"tanh\"", "activation_function 'tanh' is not supported")]
    public void GptJValuesNoModelCanUse(string from, string to, string message)
    {
        using var dir = new TempDir();
        const string GptJ =
            """{"architectures": ["GPTJForCausalLM"], "vocab_size": 100, "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 128, "rotary_dim": 8}""";
        var path = Write(dir, GptJ.Replace(from, to, StringComparison.Ordinal));
        Assert.StartsWith($"{path}: {message}", Error(path), StringComparison.Ordinal);
    }

    [Fact]
    public void ArchitectureFieldsOfTheWrongType()
    {
        using var dir = new TempDir();
        var path = Write(dir, """{"architectures": [7], "vocab_size": 1}""");
        Assert.StartsWith($"{path}: field 'architectures' must be a list of strings", Error(path), StringComparison.Ordinal);
        path = Write(dir, """{"architectures": "LlamaForCausalLM"}""");
        Assert.StartsWith($"{path}: field 'architectures' must be a list of strings", Error(path), StringComparison.Ordinal);
        path = Write(dir, """{"model_type": ["llama"]}""");
        Assert.StartsWith($"{path}: field 'model_type' must be a string", Error(path), StringComparison.Ordinal);
        path = Write(dir, """{"architectures": [], "model_type": "gpt2", "vocab_size": 10, "n_embd": 4, "n_layer": 1, "n_head": 2}""");
        Assert.Equal(4, Assert.IsType<Gpt2Config>(Parse(path)).NEmbd);
        path = Write(dir, """{"model_type": "bert"}""");
        Assert.Equal($"{path}: architecture model_type 'bert' is not supported (LlamaForCausalLM, GPTJForCausalLM, GPT2LMHeadModel)", Error(path));
    }
}
