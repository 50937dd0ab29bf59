# The course's own code: every code block of KAIST lecture 'Text Classification' (bentrevett/pytorch-sentiment-analysis), as handed out to students.
# Similarity detection (grader/similarity.py) removes it from submissions before comparing them.
# Not meant to run: blocks are concatenated as the slides show them.

[1] import torch  
    from torchtext import data

SEED = 1234

torch.manual_seed(SEED)

torch.backends.cudnn.deterministic = True

TEXT = data.Field(tokenize = 'spacy')

LABEL = data.LabelField(dtype = torch.float)

[1] import torch  
    from torchtext import data

SEED = 1234

torch.manual_seed(SEED)  
torch.backends.cudnn.deterministic = True

TEXT = data.Field(tokenize = 'spacy')  
LABEL = data.LabelField(dtype = torch.float)

[1] import torch
    from torchtext import data

    SEED = 1234

    torch.manual_seed(SEED)
    torch.backends.cudnn.deterministic = True

    TEXT = data.Field(tokenize = 'spacy')
    LABEL = data.LabelField(dtype = torch.float)

[1] import torch
    from torchtext import data

    SEED = 1234

    torch.manual_seed(SEED)
    torch.backends.cudnn.deterministic = True

    TEXT = data.Field(tokenize = 'spacy')
    LABEL = data.LabelField(dtype = torch.float)

[2] from torchtext import datasets

train_data, test_data = datasets.IMDB.splits(TEXT, LABEL)

[3] print(f'Number of training examples: {len(train_data)}')  
    print(f'Number of testing examples: {len(test_data)}')

↳ Number of training examples: 25000  
   Number of testing examples: 25000

[4] print(vars(train_data.examples[0]))

{'text': ['This', 'is', 'one', 'of', 'the', 'finest', 'films', 'to', 'come', 'out', 'of', 'Hong', 'Kong', 's', ' ', 'New', 'Wave', ' ']

ly', 'feel', 'chastened', 'by', 'the', 'experience', '-', 'and', 'somehow', 'better', 'for', 'it', 'over', 'all', '.'], 'label': 'pos'}

[5] import random

train_data, valid_data = train_data.split(random_state = random.seed(SEED))

[6] print(f'Number of training examples: {len(train_data)}')  
    print(f'Number of validation examples: {len(valid_data)}')  
    print(f'Number of testing examples: {len(test_data)}')

↳ Number of training examples: 17500  
   Number of validation examples: 7500  
   Number of testing examples: 25000

[7] MAX_VOCAB_SIZE = 25_000

TEXT.build_vocab(train_data, max_size = MAX_VOCAB_SIZE)  
LABEL.build_vocab(train_data)

[8] print(f"Unique tokens in TEXT vocabulary: {len(TEXT.vocab)}")  
    print(f"Unique tokens in LABEL vocabulary: {len(LABEL.vocab)}")

↳ Unique tokens in TEXT vocabulary: 25002  
   Unique tokens in LABEL vocabulary: 2

[9] print(TEXT.vocab.freqs.most_common(20))

↳ [('the', 200806), ('.', 190507), ('.', 163859), ('and', 108678), ('a', 108379), ('of', 99904), ('to', 92850), ('is', 75910), (

[10] print(TEXT.vocab.itos[:10])

☞ ['<unk>', '<pad>', 'the', ',', '.', 'and', 'a', 'of', 'to', 'is']

[11] print(LABEL.vocab.stoi)

↳ defaultdict(<function _default_unk_index at 0x7fc739e0aa60>, {'neg': 0, 'pos': 1})

[12] BATCH_SIZE = 64

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

train_iterator, valid_iterator, test_iterator = data.BucketIterator.splits(
    (train_data, valid_data, test_data),
    batch_size = BATCH_SIZE,
    device = device)

[12] BATCH_SIZE = 64  
      device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')  
      train_iterator, valid_iterator, test_iterator = data.BucketIterator.splits(  
          (train_data, valid_data, test_data),  
          batch_size = BATCH_SIZE,  
          device = device)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):
        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

    def forward(self, text):
        #text = [sent len, batch size]
        embedded = self.embedding(text)

        #embedded = [sent len, batch size, emb dim]
        output, hidden = self.rnn(embedded)

        #output = [sent len, batch size, hid dim]
        #hidden = [1, batch size, hid dim]

        assert torch.equal(output[-1,:,:], hidden.squeeze(0))

        return self.fc(hidden.squeeze(0))

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):
        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_dim)
        self.fc = nn.Linear(hidden_dim, output_dim)

def forward(self, text):  
    #text = [sent len, batch size] Input batch  
    embedded = self.embedding(text)  
  
    #embedded = [sent len, batch size, emb dim]  
  
    output, hidden = self.rnn(embedded)  
  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
  
    assert torch.equal(output[-1,:,:], hidden.squeeze(0))  
  
    return self.fc(hidden.squeeze(0))

def forward(self, text):  
    #text = [sent len, batch size]  
    embedded = self.embedding(text)  
    #embedded = [sent len, batch size, emb dim]  
    output, hidden = self.rnn(embedded)  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
    assert torch.equal(output[-1, :, :], hidden.squeeze(0))  
    return self.fc(hidden.squeeze(0))

def forward(self, text):  
    #text = [sent len, batch size]  
    embedded = self.embedding(text)  
    #embedded = [sent len, batch size, emb dim]  
    output, hidden = self.rnn(embedded)  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
    assert torch.equal(output[-1,:,:], hidden.squeeze(0))  
    return self.fc(hidden.squeeze(0))

def forward(self, text):  
    #text = [sent len, batch size]  
    embedded = self.embedding(text)  
    #embedded = [sent len, batch size, emb dim]  
    output, hidden = self.rnn(embedded)  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
    assert torch.equal(output[-1,:,:], hidden.squeeze(0))  
    return self.fc(hidden.squeeze(0))

[14] INPUT_DIM = len(TEXT.vocab)
      EMBEDDING_DIM = 100
      HIDDEN_DIM = 256
      OUTPUT_DIM = 1

      model = RNN(INPUT_DIM, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM)

▶ def count_parameters(model):  
    return sum(p.numel() for p in model.parameters() if p.requires_grad)  
  
    print(f'The model has {count_parameters(model):,} trainable parameters')

def count_parameters(model):  
    return sum(p.numel() for p in model.parameters() if p.requires_grad)  
  
print(f'The model has {count_parameters(model):,} trainable parameters')

[16] import torch.optim as optim

optimizer = optim.SGD(model.parameters(), lr=1e-3)

[17] criterion = nn.BCEWithLogitsLoss()

[18] model = model.to(device)  
criterion = criterion.to(device)

[19] def binary_accuracy(preds, y):  
    """  
    Returns accuracy per batch, i.e. if you get 8/10 right, this returns 0.8, NOT 8  
    """  
  
    #round predictions to the closest integer  
    rounded_preds = torch.round(torch.sigmoid(preds))  
    correct = (rounded_preds == y).float() #convert into float for division  
    acc = correct.sum() / len(correct)  
    return acc

 def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
  
        predictions = model(batch.text).squeeze(1)  
  
        loss = criterion(predictions, batch.label)  
  
        acc = binary_accuracy(predictions, batch.label)  
  
        loss.backward()  
  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
    model.train()  
    for batch in iterator:  
        optimizer.zero_grad()  
        predictions = model(batch.text).squeeze(1)  
        loss = criterion(predictions, batch.label)  
        acc = binary_accuracy(predictions, batch.label)  
        loss.backward()  
        optimizer.step()  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad() Zero the gradients  
        predictions = model(batch.text).squeeze(1)  
        loss = criterion(predictions, batch.label)  
        acc = binary_accuracy(predictions, batch.label)  
        loss.backward()  
        optimizer.step()  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad() Feed the input to the model  
        predictions = model(batch.text).squeeze(1)  
        loss = criterion(predictions, batch.label)  
        acc = binary_accuracy(predictions, batch.label)  
        loss.backward()  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
        predictions = model(batch.text).squeeze(1)  
        loss = criterion(predictions, batch.label)  
        acc = binary_accuracy(predictions, batch.label)  
        loss.backward()  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
  
        predictions = model(batch.text).squeeze(1)  
  
        loss = criterion(predictions, batch.label)  
        acc = binary_accuracy(predictions, batch.label)  
  
        loss.backward()  
  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
  
        predictions = model(batch.text).squeeze(1)  
  
        loss = criterion(predictions, batch.label)  
  
        acc = binary_accuracy(predictions, batch.label)  
  
        loss.backward()  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
  
        predictions = model(batch.text).squeeze(1)  
  
        loss = criterion(predictions, batch.label)  
  
        acc = binary_accuracy(predictions, batch.label)  
  
        loss.backward()  
  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
  
        predictions = model(batch.text).squeeze(1)  
  
        loss = criterion(predictions, batch.label)  
  
        acc = binary_accuracy(predictions, batch.label)  
  
        loss.backward()  
  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

[21] def evaluate(model, iterator, criterion):  
  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.eval()  
  
    with torch.no_grad():  
        for batch in iterator:  
            predictions = model(batch.text).squeeze(1)  
            loss = criterion(predictions, batch.label)  
            acc = binary_accuracy(predictions, batch.label)  
  
            epoch_loss += loss.item()  
            epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

[21] def evaluate(model, iterator, criterion):  
  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.eval() Set model in “evaluation mode”  
  
    with torch.no_grad():  
        for batch in iterator:  
            predictions = model(batch.text).squeeze(1)  
            loss = criterion(predictions, batch.label)  
            acc = binary_accuracy(predictions, batch.label)  
            epoch_loss += loss.item()  
            epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

[21] def evaluate(model, iterator, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.eval()  
  
    with torch.no_grad():  
        for batch in iterator:  
            predictions = model(batch.text).squeeze(1)  
            loss = criterion(predictions, batch.label)  
            acc = binary_accuracy(predictions, batch.label)  
            epoch_loss += loss.item()  
            epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

[21] def evaluate(model, iterator, criterion):  
  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.eval()  
  
    with torch.no_grad():  
  
        for batch in iterator:  
  
            predictions = model(batch.text).squeeze(1)  
  
            loss = criterion(predictions, batch.label)  
  
            acc = binary_accuracy(predictions, batch.label)  
  
            epoch_loss += loss.item()  
            epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

[22] import time

def epoch_time(start_time, end_time):
    elapsed_time = end_time - start_time
    elapsed_mins = int(elapsed_time / 60)
    elapsed_secs = int(elapsed_time - (elapsed_mins * 60))
    return elapsed_mins, elapsed_secs

[23] N_EPOCHS = 5

best_valid_loss = float('inf')

for epoch in range(N_EPOCHS):
    start_time = time.time()

    train_loss, train_acc = train(model, train_iterator, optimizer, criterion)
    valid_loss, valid_acc = evaluate(model, valid_iterator, criterion)

    end_time = time.time()

    epoch_mins, epoch_secs = epoch_time(start_time, end_time)

    if valid_loss < best_valid_loss:
        best_valid_loss = valid_loss
        torch.save(model.state_dict(), 'tut1-model.pt')

    print(f'Epoch: {epoch+1:02} | Epoch Time: {epoch_mins}m {epoch_secs}s')
    print(f'Wt Train Loss: {train_loss:.3f} | Train Acc: {train_acc*100:.2f}%')
    print(f'Wt Val. Loss: {valid_loss:.3f} | Val. Acc: {valid_acc*100:.2f}%')

[23] N_EPOCHS = 5

best_valid_loss = float('inf')

for epoch in range(N_EPOCHS):

    start_time = time.time()

    train_loss, train_acc = train(model, train_iterator, optimizer, criterion)
    valid_loss, valid_acc = evaluate(model, valid_iterator, criterion)

    end_time = time.time()

    epoch_mins, epoch_secs = epoch_time(start_time, end_time)

 
    if valid_loss < best_valid_loss:
        best_valid_loss = valid_loss
        torch.save(model.state_dict(), 'tut1-model.pt')

    print(f'Epoch: {epoch+1:02} | Epoch Time: {epoch_mins}m {epoch_secs}s')
    print(f'Wt Train Loss: {train_loss:.3f} | Train Acc: {train_acc*100:.2f}%')
    print(f'Wt Val. Loss: {valid_loss:.3f} | Val. Acc: {valid_acc*100:.2f}%')

Epoch: 01 | Epoch Time: 0m 45s
  Train Loss: 0.694 | Train Acc: 50.25%
    Val. Loss: 0.697 | Val. Acc: 48.67%
Epoch: 02 | Epoch Time: 0m 44s
  Train Loss: 0.693 | Train Acc: 49.86%
    Val. Loss: 0.697 | Val. Acc: 49.21%
Epoch: 03 | Epoch Time: 0m 45s
  Train Loss: 0.693 | Train Acc: 49.85%
    Val. Loss: 0.697 | Val. Acc: 49.83%
Epoch: 04 | Epoch Time: 0m 45s
  Train Loss: 0.693 | Train Acc: 50.04%
    Val. Loss: 0.697 | Val. Acc: 48.53%
Epoch: 05 | Epoch Time: 0m 45s
  Train Loss: 0.693 | Train Acc: 50.39%
    Val. Loss: 0.697 | Val. Acc: 49.98%

[24] model.load_state_dict(torch.load('tut1-model.pt'))  
      test_loss, test_acc = evaluate(model, test_iterator, criterion)  
      print(f'Test Loss: {test_loss:.3f} | Test Acc: {test_acc*100:.2f}%')

[24] model.load_state_dict(torch.load('tut1-model.pt'))  
test_loss, test_acc = evaluate(model, test_iterator, criterion)  
print(f'Test Loss: {test_loss:.3f} | Test Acc: {test_acc*100:.2f}%')

[24] model.load_state_dict(torch.load('tut1-model.pt'))  
      test_loss, test_acc = evaluate(model, test_iterator, criterion)  
      print(f'Test Loss: {test_loss:.3f} | Test Acc: {test_acc*100:.2f}%')

↳ Test Loss: 0.712 | Test Acc: 45.47%

[7] MAX_VOCAB_SIZE = 25_000  
  
TEXT.build_vocab(train_data, max_size = MAX_VOCAB_SIZE)  
LABEL.build_vocab(train_data)

[ ] MAX_VOCAB_SIZE = 25_000  
  
TEXT.build_vocab(train_data, max_size = MAX_VOCAB_SIZE,  
                 vectors = "glove.6B.100d",  
                 unk_init = torch.Tensor.normal_)  
LABEL.build_vocab(train_data)

[1] import torch
    from torchtext import data

SEED = 1234

torch.manual_seed(SEED)
torch.backends.cudnn.deterministic = True

TEXT = data.Field(tokenize = 'spacy')
LABEL = data.LabelField(dtype = torch.float)

[7] import torch
    from torchtext import data

SEED = 1234

torch.manual_seed(SEED)
torch.backends.cudnn.deterministic = True

TEXT = data.Field(tokenize = 'spacy', include_lengths=True)
LABEL = data.LabelField(dtype = torch.float)

[12] BATCH_SIZE = 64

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

train_iterator, valid_iterator, test_iterator = data.BucketIterator.splits(
    (train_data, valid_data, test_data),
    batch_size = BATCH_SIZE,
    device = device)

[ ] BATCH_SIZE = 64

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

 
train_iterator, valid_iterator, test_iterator = data.BucketIterator.splits(
    (train_data, valid_data, test_data),
    batch_size = BATCH_SIZE,
    sort_within_batch=True,
    device = device)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):

        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers,
                  bidirectional, dropout, pad_idx):

        super().__init__()

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = pad_idx)

        self.rnn = nn.LSTM(embedding_dim,
                            hidden_dim,
                            num_layers=n_layers,
                            bidirectional=bidirectional,
                            dropout=dropout)

        self.fc = nn.Linear(hidden_dim * 2, output_dim)

        self.dropout = nn.Dropout(dropout)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):

        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers,
                  bidirectional, dropout, pad_idx):

        super().__init__()

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = pad_idx)

        self.rnn = nn.LSTM(embedding_dim,
                            hidden_dim,
                            num_layers=n_layers,
                            bidirectional=bidirectional,
                            dropout=dropout)

        self.fc = nn.Linear(hidden_dim * 2, output_dim)

        self.dropout = nn.Dropout(dropout)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):

        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers,
                  bidirectional, dropout, padding_idx):

        super().__init__()

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = padding_idx)

        self.rnn = nn.LSTM(embedding_dim,
                            hidden_dim,
                            num_layers=n_layers,
                            bidirectional=bidirectional,
                            dropout=dropout)

        self.fc = nn.Linear(hidden_dim * 2, output_dim)

        self.dropout = nn.Dropout(dropout)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):

        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers,
                  bidirectional, dropout, pad_idx):

        super().__init__()

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = pad_idx)

        self.rnn = nn.LSTM(embedding_dim,
                           hidden_dim,
                           num_layers=n_layers,
                           bidirectional=bidirectional,
                           dropout=dropout)

        self.fc = nn.Linear(hidden_dim * 2, output_dim)

        self.dropout = nn.Dropout(dropout)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):

        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers,
                  bidirectional, dropout, pad_idx):

        super().__init__()

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = pad_idx)

        self.rnn = nn.LSTM(embedding_dim,
                            hidden_dim,
                            num_layers=n_layers,
                            bidirectional=bidirectional,
                            dropout=dropout)

        self.fc = nn.Linear(hidden_dim * 2, output_dim)

        self.dropout = nn.Dropout(dropout)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):

        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers,
                  bidirectional, dropout, pad_idx):

        super().__init__()

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = pad_idx)

        self.rnn = nn.LSTM(embedding_dim,
                            hidden_dim,
                            num_layers=n_layers,
                            bidirectional=bidirectional,
                            dropout=dropout)

        self.fc = nn.Linear(hidden_dim * 2, output_dim)

        self.dropout = nn.Dropout(dropout)

[13] import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):

        super().__init__()

        self.embedding = nn.Embedding(input_dim, embedding_dim)

        self.rnn = nn.RNN(embedding_dim, hidden_dim)

        self.fc = nn.Linear(hidden_dim, output_dim)

import torch.nn as nn

class RNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers,
                  bidirectional, dropout, pad_idx):

        super().__init__()

        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx = pad_idx)

        self.rnn = nn.LSTM(embedding_dim,
                            hidden_dim,
                            num_layers=n_layers,
                            bidirectional=bidirectional,
                            dropout=dropout)

        self.fc = nn.Linear(hidden_dim * 2, output_dim)

        self.dropout = nn.Dropout(dropout)

def forward(self, text):  
    #text = [sent len, batch size]  
    embedded = self.embedding(text)  
    #embedded = [sent len, batch size, emb dim]  
    output, hidden = self.rnn(embedded)  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
    assert torch.equal(output[-1,:,:], hidden.squeeze(0))  
    return self.fc(hidden.squeeze(0))

def forward(self, text, text_lengths):  
    #text = [sent len, batch size]  
    embedded = self.dropout(self.embedding(text))  
    #embedded = [sent len, batch size, emb dim]  
    #pack sequence  
    packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths)  
    packed_output, (hidden, cell) = self.rnn(packed_embedded)  
    #unpack sequence  
    output, output_lengths = nn.utils.rnn.pad_packed_sequence(packed_output)  
    #output = [sent len, batch size, hid dim, hid dim * num directions]  
    #output over padding tokens are zero tensors  
    #hidden = [num layers * num directions, batch size, hid dim]  
    #cell = [num layers * num directions, batch size, hid dim]  
    #concat the final forward (hidden[-2,:,:]) and backward (hidden[-1,:,:]) hidden layers  
    #and apply dropout  
    hidden = self.dropout(torch.cat((hidden[-2,:,:], hidden[-1,:,:]), dim = 1))  
    #hidden = [batch size, hid dim * num directions]  
    return self.fc(hidden)

def forward(self, text):  
    #text = [sent len, batch size]  
    embedded = self.embedding(text)  
    #embedded = [sent len, batch size, emb dim]  
    output, hidden = self.rnn(embedded)  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
    assert torch.equal(output[-1,:,:], hidden.squeeze(0))  
    return self.fc(hidden.squeeze(0))

def forward(self, text, text_lengths):  
    #text = [sent len, batch size] Address Dropout  
    embedded = self.dropout(self.embedding(text))  
    #embedded = [sent len, batch size, emb dim]  
    #pack sequence  
    packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths)  
    packed_output, (hidden, cell) = self.rnn(packed_embedded)  
    #unpack sequence  
    output, output_lengths = nn.utils.rnn.pad_packed_sequence(packed_output)  
    #output = [sent len, batch size, hid dim, hid dim * num directions]  
    #output over padding tokens are zero tensors  
    #hidden = [num layers * num directions, batch size, hid dim]  
    #cell = [num layers * num directions, batch size, hid dim]  
    #concat the final forward (hidden[-2,:,:]) and backward (hidden[-1,:,:]) hidden layers  
    #and apply dropout  
    hidden = self.dropout(torch.cat((hidden[-2,:,:], hidden[-1,:,:]), dim = 1))  
    #hidden = [batch size, hid dim * num directions]  
    return self.fc(hidden)

def forward(self, text):  
    #text = [sent len, batch size]  
    embedded = self.embedding(text)  
    #embedded = [sent len, batch size, emb dim]  
    output, hidden = self.rnn(embedded)  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
    assert torch.equal(output[-1,:,:], hidden.squeeze(0))  
    return self.fc(hidden.squeeze(0))

def forward(self, text, text_lengths):  
    #text = [sent len, batch size]  
    embedded = self.dropout(self.embedding(text))  
    #embedded = [sent len, batch size, emb dim]  
    #pack sequence  
    packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths)  
    packed_output, (hidden, cell) = self.rnn(packed_embedded)  
    #unpack sequence  
    output, output_lengths = nn.utils.rnn.pad_packed_sequence(packed_output)  
    #output = [sent len, batch size, hid dim, hid dim * num directions]  
    #output over padding tokens are zero tensors  
    #hidden = [num layers * num directions, batch size, hid dim]  
    #cell = [num layers * num directions, batch size, hid dim]  
    #concat the final forward (hidden[-2,:,:]) and backward (hidden[-1,:,:]) hidden layers  
    #and apply dropout  
    hidden = self.dropout(torch.cat((hidden[-2,:,:], hidden[-1,:,:]), dim = 1))  
    #hidden = [batch size, hid dim * num directions]  
    return self.fc(hidden)

def forward(self, text):  
    #text = [sent len, batch size]  
    embedded = self.embedding(text)  
    #embedded = [sent len, batch size, emb dim]  
    output, hidden = self.rnn(embedded)  
    #output = [sent len, batch size, hid dim]  
    #hidden = [1, batch size, hid dim]  
    assert torch.equal(output[-1,:,:], hidden.squeeze(0))  
    return self.fc(hidden.squeeze(0))

def forward(self, text, text_lengths):  
    #text = [sent len, batch size]  
    embedded = self.dropout(self.embedding(text))  
    #embedded = [sent len, batch size, emb dim]  
    #pack sequence  
    packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths)  
    packed_output, (hidden, cell) = self.rnn(packed_embedded)  
    #unpack sequence  
    output, output_lengths = nn.utils.rnn.pad_packed_sequence(packed_output)  
    #output = [sent len, batch size, hid dim, hid dim * num directions]  
    #output over padding tokens are zero tensors  
    #hidden = [num layers * num directions, batch size, hid dim]  
    #cell = [num layers * num directions, batch size, hid dim]  
    #concat the final forward (hidden[-2,:,:]) and backward (hidden[-1,:,:]) hidden layers  
    #and apply dropout  
    hidden = self.dropout(torch.cat((hidden[-2,:,:], hidden[-1,:,:]), dim = 1))  
    #hidden = [batch size, hid dim * num directions]  
    return self.fc(hidden)

[14] INPUT_DIM = len(TEXT.vocab)
      EMBEDDING_DIM = 100
      HIDDEN_DIM = 256
      OUTPUT_DIM = 1

      model = RNN(INPUT_DIM, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM)

[ ] INPUT_DIM = len(TEXT.vocab)
     EMBEDDING_DIM = 100
     HIDDEN_DIM = 256
     OUTPUT_DIM = 1
     N_LAYERS=2
     BIDIRECTIONAL=True
     DROPOUT=0.5
     PAD_IDX=TEXT.vocab.stoi[TEXT.pad_token]

     model = RNN(INPUT_DIM, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM,
                 N_LAYERS, BIDIRECTIONAL, DROPOUT, PAD_IDX)

▶ pretrained_embeddings = TEXT.vocab.vectors
  print(pretrained_embeddings.shape)

  model.embedding.weight.data.copy_(pretrained_embeddings)

  UNK_IDX = TEXT.vocab.stoi[TEXT.unk_token]

  model.embedding.weight.data[UNK_IDX] = torch.zeros(EMBEDDING_DIM)
  model.embedding.weight.data[PAD_IDX] = torch.zeros(EMBEDDING_DIM)

↳ torch.Size([25002, 100])

print(model.embedding.weight.data)

tensor([[ 0.0000,  0.0000,  0.0000, ...,  0.0000,  0.0000,  0.0000],
        [ 0.0000,  0.0000,  0.0000, ...,  0.0000,  0.0000,  0.0000],
        [-0.0382, -0.2449,  0.7281, ..., -0.1459,  0.8278,  0.2706],
        ...,
        [ 0.2455, -0.0385, -0.4767, ..., -0.2939, -0.0752,  0.0441],
        [ 0.4327,  0.3958,  0.5878, ..., -1.1461,  0.2348, -0.2359],
        [-0.3970,  0.4024,  1.0612, ..., -0.0136, -0.3363,  0.6442]],
        device='cuda:0')

import torch.optim as optim  
  
optimizer = optim.Adam(model.parameters())

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
        predictions = model(batch.text).squeeze(1)  
        loss = criterion(predictions, batch.label)  
        acc = binary_accuracy(predictions, batch.label)  
        loss.backward()  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def train(model, iterator, optimizer, criterion):  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.train()  
  
    for batch in iterator:  
        optimizer.zero_grad()  
        text, text_lengths = batch.text  
        predictions = model(text, text_lengths).squeeze(1)  
        loss = criterion(predictions, batch.label)  
        acc = binary_accuracy(predictions, batch.label)  
        loss.backward()  
        optimizer.step()  
  
        epoch_loss += loss.item()  
        epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

[21] def evaluate(model, iterator, criterion):  
  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.eval()  
  
    with torch.no_grad():  
        for batch in iterator:  
            predictions = model(batch.text).squeeze(1)  
            loss = criterion(predictions, batch.label)  
            acc = binary_accuracy(predictions, batch.label)  
  
            epoch_loss += loss.item()  
            epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

def evaluate(model, iterator, criterion):  
  
    epoch_loss = 0  
    epoch_acc = 0  
  
    model.eval()  
  
    with torch.no_grad():  
        for batch in iterator:  
            text, text_lengths = batch.text  
            predictions = model(text, text_lengths).squeeze(1)  
            loss = criterion(predictions, batch.label)  
            acc = binary_accuracy(predictions, batch.label)  
  
            epoch_loss += loss.item()  
            epoch_acc += acc.item()  
  
    return epoch_loss / len(iterator), epoch_acc / len(iterator)

Epoch: 01 | Epoch Time: 0m 45s
    Train Loss: 0.694 | Train Acc: 50.25%
    Val. Loss: 0.697 | Val. Acc: 48.67%
Epoch: 02 | Epoch Time: 0m 44s
    Train Loss: 0.693 | Train Acc: 49.86%
    Val. Loss: 0.697 | Val. Acc: 49.21%
Epoch: 03 | Epoch Time: 0m 45s
    Train Loss: 0.693 | Train Acc: 49.85%
    Val. Loss: 0.697 | Val. Acc: 49.83%
Epoch: 04 | Epoch Time: 0m 45s
    Train Loss: 0.693 | Train Acc: 50.04%
    Val. Loss: 0.697 | Val. Acc: 48.53%
Epoch: 05 | Epoch Time: 0m 45s
    Train Loss: 0.693 | Train Acc: 50.39%
    Val. Loss: 0.697 | Val. Acc: 49.98%

Epoch: 01 | Epoch Time: 1m 39s
    Train Loss: 0.662 | Train Acc: 59.67%
    Val. Loss: 0.657 | Val. Acc: 60.47%
Epoch: 02 | Epoch Time: 1m 40s
    Train Loss: 0.570 | Train Acc: 70.95%
    Val. Loss: 0.433 | Val. Acc: 80.95%
Epoch: 03 | Epoch Time: 1m 39s
    Train Loss: 0.431 | Train Acc: 81.24%
    Val. Loss: 0.340 | Val. Acc: 85.87%
Epoch: 04 | Epoch Time: 1m 39s
    Train Loss: 0.334 | Train Acc: 86.02%
    Val. Loss: 0.310 | Val. Acc: 86.93%
Epoch: 05 | Epoch Time: 1m 39s
    Train Loss: 0.293 | Train Acc: 88.13%
    Val. Loss: 0.357 | Val. Acc: 83.99%
