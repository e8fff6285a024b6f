using System.Text.Json.Nodes;
using Alora.Models;

namespace Alora.Tests.Models;

/// <summary>model.safetensors.index.json maps tensors to shard files of the model folder, and nothing else.</summary>
public class ShardIndexTests
{
    static void WriteIndex(TempDir tmp, JsonNode file)
    {
        var dir = tmp.File("model");
        File.Move(Path.Combine(dir, "model.safetensors"), tmp.File("outside.safetensors"));
        var index = new JsonObject { ["weight_map"] = new JsonObject { ["model.norm.weight"] = file } };
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), index.ToJsonString());
    }

    [Theory]
    [InlineData("../outside.safetensors")]
    [InlineData("/tmp/outside.safetensors")]
    public void AShardOutsideTheModelFolderIsRefused(string file)
    {
        using var tmp = new TempDir();
        TinyModels.SaveLlama(tmp.File("model"));
        WriteIndex(tmp, file);
        var e = Assert.Throws<AloraException>(() => ModelLoader.Load(tmp.File("model")));
        Assert.Contains("model.safetensors.index.json", e.Message);
        Assert.Contains("not a file of the model folder", e.Message);
    }

    [Fact]
    public void AShardNameThatIsNotTextIsRefused()
    {
        using var tmp = new TempDir();
        TinyModels.SaveLlama(tmp.File("model"));
        WriteIndex(tmp, 7);
        var e = Assert.Throws<AloraException>(() => ModelLoader.Load(tmp.File("model")));
        Assert.Contains("is not a file name", e.Message);
    }
}
