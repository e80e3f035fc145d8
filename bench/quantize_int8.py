"""Would int8 weights pay for 1st-gen on CPU? fp32 vs torch's dynamic int8 quantisation.

1st-gen costs one base-model forward over the prompt, so this times exactly that, on the
embedded SmolLM2-135M, 32 review-like prompts of 80-300 characters, batch 16, one thread, and
compares the 1st-gen states (cosine to fp32). Run: OMP_NUM_THREADS=1 python bench/quantize_int8.py
"""
import time, torch, copy
from transformers import AutoModelForCausalLM, AutoTokenizer
from inbedder.models.loading import embedded_generator_dir
torch.set_num_threads(1)
d = embedded_generator_dir()
tok = AutoTokenizer.from_pretrained(d); tok.padding_side = "left"
model = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
texts = [("The food was good but the service was slow and the waiter forgot our order. " * 3)[: 80 + 7 * i] for i in range(32)]
batches = [tok(texts[i:i+16], return_tensors="pt", padding=True) for i in range(0, 32, 16)]
def run(m):
    with torch.no_grad():
        out = [m.model(**b).last_hidden_state[:, -1] for b in batches]
    return torch.cat(out)
q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
run(model); run(q)
for name, m in (("fp32", model), ("int8", q), ("fp32", model), ("int8", q)):
    t = time.process_time(); h = run(m); print(name, round(time.process_time() - t, 2), "CPU-s")
a, b = run(model), run(q)
cos = torch.nn.functional.cosine_similarity(a, b)
print(f"cosine of int8 to fp32 1st-gen states: mean {cos.mean().item():.3f}, min {cos.min().item():.3f}")
