// A downstream project using the installed opd: build a tiny model, run it.
#include <opd/model/tiny_model.h>

#include <iostream>

int main() {
  opd::model::TinyModelSpec spec;
  spec.vocab_size = 32;
  auto model = opd::model::make_tiny_model(spec);
  auto ids = at::zeros({1, 3}, at::kLong);
  auto mask = at::ones({1, 3}, at::kLong);
  auto logits = model->forward(ids, opd::model::position_ids_from_mask(mask), mask);
  std::cout << "consumer: logits " << logits.sizes() << "\n";
  return logits.isfinite().all().item<bool>() ? 0 : 1;
}
