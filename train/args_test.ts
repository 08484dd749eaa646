import assert from "node:assert/strict";
import {
  BLOG_ARGUMENTS,
  fromTrainingArgsJson,
  makeTrainingArguments,
  toTrainingArgsJson,
  TRAINING_DEFAULTS,
} from "./args.ts";

/**
 * The fields of Transformers v4.51's `TrainingArguments` dataclass
 * (src/transformers/training_args.py), in its order, up to `label_smoothing_factor`, then the
 * later ones training_args.json carries here; copied from its source, not from this module.
 */
const TRANSFORMERS_FIELDS = [
  "output_dir",
  "overwrite_output_dir",
  "do_train",
  "do_eval",
  "do_predict",
  "eval_strategy",
  "prediction_loss_only",
  "per_device_train_batch_size",
  "per_device_eval_batch_size",
  "per_gpu_train_batch_size",
  "per_gpu_eval_batch_size",
  "gradient_accumulation_steps",
  "eval_accumulation_steps",
  "eval_delay",
  "torch_empty_cache_steps",
  "learning_rate",
  "weight_decay",
  "adam_beta1",
  "adam_beta2",
  "adam_epsilon",
  "max_grad_norm",
  "num_train_epochs",
  "max_steps",
  "lr_scheduler_type",
  "lr_scheduler_kwargs",
  "warmup_ratio",
  "warmup_steps",
  "log_level",
  "log_level_replica",
  "log_on_each_node",
  "logging_dir",
  "logging_strategy",
  "logging_first_step",
  "logging_steps",
  "logging_nan_inf_filter",
  "save_strategy",
  "save_steps",
  "save_total_limit",
  "save_safetensors",
  "save_on_each_node",
  "save_only_model",
  "restore_callback_states_from_checkpoint",
  "no_cuda",
  "use_cpu",
  "use_mps_device",
  "seed",
  "data_seed",
  "jit_mode_eval",
  "use_ipex",
  "bf16",
  "fp16",
  "fp16_opt_level",
  "half_precision_backend",
  "bf16_full_eval",
  "fp16_full_eval",
  "tf32",
  "local_rank",
  "ddp_backend",
  "tpu_num_cores",
  "tpu_metrics_debug",
  "debug",
  "dataloader_drop_last",
  "eval_steps",
  "dataloader_num_workers",
  "dataloader_prefetch_factor",
  "past_index",
  "run_name",
  "disable_tqdm",
  "remove_unused_columns",
  "label_names",
  "load_best_model_at_end",
  "metric_for_best_model",
  "greater_is_better",
  "ignore_data_skip",
  "fsdp",
  "fsdp_min_num_params",
  "fsdp_config",
  "tp_size",
  "fsdp_transformer_layer_cls_to_wrap",
  "accelerator_config",
  "deepspeed",
  "label_smoothing_factor",
  "optim",
  "optim_args",
  "adafactor",
  "group_by_length",
  "length_column_name",
  "report_to",
  "ddp_find_unused_parameters",
  "ddp_bucket_cap_mb",
  "ddp_broadcast_buffers",
  "dataloader_pin_memory",
  "dataloader_persistent_workers",
  "skip_memory_metrics",
  "use_legacy_prediction_loop",
  "push_to_hub",
  "resume_from_checkpoint",
];

Deno.test("toTrainingArgsJson() writes Transformers' field names in its dataclass order", () => {
  const json = toTrainingArgsJson(makeTrainingArguments({ ...BLOG_ARGUMENTS, augment: true }));
  const keys = Object.keys(json);
  for (const key of keys) assert.ok(TRANSFORMERS_FIELDS.includes(key), `${key} is Transformers'`);
  const positions = keys.map((k) => TRANSFORMERS_FIELDS.indexOf(k));
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b), "in the dataclass's order");
  assert.ok(!keys.some((k) => /[A-Z]/.test(k)), "no camelCase key");
  assert.ok(!("augment" in json), "Tessera's own augment has no Transformers field");
  // Every argument Tessera has except augment, and the five fixed ones.
  assert.equal(keys.length, Object.keys(TRAINING_DEFAULTS).length - 1 + 5);
});

Deno.test("toTrainingArgsJson() writes the blog's values as Transformers would", () => {
  const json = toTrainingArgsJson(makeTrainingArguments(BLOG_ARGUMENTS));
  assert.equal(json.output_dir, "./vit-base-beans-demo");
  assert.equal(json.per_device_train_batch_size, 16);
  assert.equal(json.eval_strategy, "steps");
  assert.equal(json.eval_steps, 100);
  assert.equal(json.learning_rate, 2e-4);
  assert.equal(json.fp16, true);
  assert.equal(json.metric_for_best_model, "loss");
  assert.equal(json.greater_is_better, false);
  assert.deepEqual(json.report_to, ["tensorboard"]);
  assert.deepEqual(json.lr_scheduler_kwargs, {});
  assert.equal(json.optim, "adamw_torch");
  assert.equal(json.save_safetensors, true);
  const none = toTrainingArgsJson(makeTrainingArguments({ reportTo: "none" }));
  assert.deepEqual(none.report_to, [], "'none' becomes an empty list, as __post_init__ makes it");
});

Deno.test(
  "fromTrainingArgsJson() reads the snake_case file and the " +
    "old camelCase one alike",
  () => {
    const args = makeTrainingArguments({ ...BLOG_ARGUMENTS, seed: 7, warmupRatio: 0.1 });
    const fromSnake = makeTrainingArguments(fromTrainingArgsJson(toTrainingArgsJson(args)));
    assert.deepEqual(fromSnake, args);
    const oldCamel = JSON.parse(JSON.stringify(args)) as Record<string, unknown>;
    assert.deepEqual(makeTrainingArguments(fromTrainingArgsJson(oldCamel)), args);
    // Transformers' own file: its extra fields are ignored, its deprecated name is read.
    const theirs = { evaluation_strategy: "epoch", save_strategy: "epoch", report_to: ["all"] };
    assert.deepEqual(fromTrainingArgsJson({ ...theirs, use_ipex: false }), {
      evalStrategy: "epoch",
      saveStrategy: "epoch",
      reportTo: "tensorboard",
    });
  },
);
