// The schema tables of the config structs (train_config.h), expanded from
// their field lists: what config_loader.cpp reads and writes, what the
// reference documents and what the CLI tools' flags share.
#pragma once

#include "opd/core/config_schema.h"
#include "opd/train/train_config.h"

namespace opd::train {

const config::Schema<TrainConfig>& train_schema();  // the top level's scalars
const config::Schema<ModelSpec>& model_spec_schema();
const config::Schema<DataConfig>& data_schema();
const config::Schema<RolloutConfig>& rollout_schema();
const config::Schema<EvalConfig>& eval_schema();
const config::Schema<LoraConfig>& lora_schema();
const config::Schema<OptimConfig>& optim_schema();

// The field `key` of `schema`; throws (an internal error) when there is none,
// for code that names a field it knows exists.
template <typename S>
const config::Field<S>& schema_field(const config::Schema<S>& schema, const std::string& key) {
  const config::Field<S>* f = config::find_field(schema, key);
  if (f == nullptr) throw std::logic_error("no config field " + key);
  return *f;
}

}  // namespace opd::train
