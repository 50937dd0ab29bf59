# The course's own code: every code block of Lecture slides, deep learning for NLP (Universitas Indonesia): Conv1D, RNN LM, LSTM, as handed out to students.
# Similarity detection (grader/similarity.py) removes it from submissions before comparing them.
# Not meant to run: blocks are concatenated as the slides show them.

>>> img = torch.tensor([[[102, 34, 98],  
                          [201, 123, 43],  
                          [44, 6, 43]],  
                        [[90, 132, 32],  
                          [201, 77, 93],  
                          [44, 6, 3]],  
                        [[73, 132, 11],  
                          [201, 123, 15],  
                          [44, 6, 99]]])

>>> img.reshape(-1)

tensor([102,  34,  98, 201, 123,  43,  44,  6,  43,  90, 132,  32, 201,  77,  93,  44,  6,  3,  73, 132,  11, 201, 123,  15,  44,  6,  99])

import torch

# random 20 images, each with 3 channels and
# h = 50 pixels & w = 100 pixels
random_images = torch.randn(20, 3, 50, 100)

# c = in_channel = 3
# c' = out_channel = 6
# kernel size = (3 x 3)
# padding = 'same' meaning that the output must have
# the same shape as the input, 'valid' meaning no padding
conv_layer = torch.nn.Conv2d(3, 6, (3, 3), padding = "same")

hidden = conv_layer(random_images)

print(hidden.shape) #[20, 6, 50, 100]

import torch
import torch.nn as nn

class Linear(nn.Module):
    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.W = nn.Parameter(torch.Tensor(self.n_inputs, self.n_outputs))
        self.init_weights()

    def init_weights(self):
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def forward(self, x):
        return x @ self.W

class Conv1D(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_width):
        """ kernel_width harus ganjil """
        super(Conv1D, self).__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_width = kernel_width
        self.pad_size = (self.kernel_width - 1) // 2
        self.kernel = Linear(kernel_width * in_channels, out_channels)

    def forward(self, x):
        # padding
        x = nn.functional.pad(x, (self.pad_size, self.pad_size), "constant", 0)

        l = []
        for i in range(self.pad_size, x.shape[2] - self.pad_size):
            patch = x[:, :, i - self.pad_size: i + self.pad_size + 1]
            patch = patch.reshape(x.shape[0], self.in_channels * self.kernel_width)
            l.append(self.kernel(patch))

        return torch.stack(l, dim=2)

>>> x = torch.tensor([[1,2,3], [4,5,6]])

>>> torch.stack([x, x], dim=1)

tensor([[[1, 2, 3],  
         [1, 2, 3]],  
        [[4, 5, 6],  
         [4, 5, 6]]])

>>> torch.stack([x, x], dim=2)

tensor([[[1, 1],  
         [2, 2],  
         [3, 3]],  
        [[4, 4],  
         [5, 5],  
         [6, 6]]])

>>> torch.stack([x, x], dim=0)

tensor([[[1, 2, 3],  
         [4, 5, 6]],  
        [[1, 2, 3],  
         [4, 5, 6]]])

seq = torch.tensor([[[1.,2.,3.,4.,5.], [5.,4.,3.,2.,1.]],  
                    [[1.,2.,3.,4.,5.], [5.,4.,3.,2.,1.]]])  
  
print(seq.shape)           # torch.size([2, 2, 5])  
  
conv = Conv1D(2, 7, 3)  
  
print(conv(seq).shape)     # torch.size([2, 7, 5])

import torch
import pandas as pd
import numpy as np

from collections import Counter
from torch import nn, optim
from torch.utils.data import DataLoader

class RNNCell(nn.Module):
    def __init__(self, n_inputs, n_hidden):
        super().__init__()
        self.h = Linear(n_hidden, n_hidden)
        self.x = Linear(n_inputs, n_hidden)

    def forward(self, input, hidden):
        return torch.tanh(self.h(hidden) + self.x(input))

class RNN(nn.Module):
    def __init__(self, n_inputs, n_hiddens, cell):
        super().__init__()
        self.n_inputs = n_inputs
        self.n_hiddens = n_hiddens
        self.cell = cell(n_inputs, n_hiddens)

    def forward(self, inputs, prev_hidden_state):
        """ inputs: [batch_size, sequence_length, embedding_size] """
        outputs = []
        hidden_state = prev_hidden_state
        n_steps = inputs.shape[1]
        for i in range(n_steps):
            hidden_state = self.cell(inputs[:, i], hidden_state)
            outputs.append(hidden_state)

        return torch.stack(outputs, dim=1), hidden_state

class Dataset(torch.utils.data.Dataset):
    def __init__(
        self,
        sequence_length,
        documents, # list of strings
    ):
        self.sequence_length = sequence_length
        self.words = self.load_words(documents)
        self.uniq_words = self.get_uniq_words()

        self.index_to_word = {index: word for index, word in enumerate(self.uniq_words)}
        self.word_to_index = {word: index for index, word in enumerate(self.uniq_words)}

        self.words_indexes = [self.word_to_index[w] for w in self.words]

    def load_words(self, documents):
        text = ""
        for doc in documents:
            text += doc + " "
        return text.split(' ')

def get_uniq_words(self):  
    word_counts = Counter(self.words)  
    return sorted(word_counts, key=word_counts.get, reverse=True)  
  
def __len__(self):  
    return len(self.words_indexes) - self.sequence_length  
  
def __getitem__(self, index):  
    return (  
        torch.tensor(self.words_indexes[index:index+self.sequence_length]),  
        torch.tensor(self.words_indexes[index+1:index+self.sequence_length+1]),  
    )

class Model(nn.Module):
    def __init__(self, dataset):
        super(Model, self).__init__()
        self.rnn_size = 16
        self.embedding_dim = 16
        self.n_vocab = len(dataset.uniq_words)

        self.embedding = nn.Embedding(
            num_embeddings=self.n_vocab,
            embedding_dim=self.embedding_dim
        )
        self.rnn = RNN(
            n_inputs=self.embedding_dim,
            n_hiddens=self.rnn_size,
            cell=RNNCell
        )
        self.fc = Linear(self.rnn_size, self.n_vocab)

def forward(self, x, prev_state):  
    embed = self.embedding(x)  
    output, state = self.rnn(embed, prev_state)  
    logits = self.fc(output)  
    return logits, state  
  
def init_state(self, batch_size):  
    return torch.zeros(batch_size, self.rnn_size)

def train(dataset, model, batch_size, max_epochs=400):
    model.train()

    dataloader = DataLoader(dataset, batch_size=batch_size)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)

    for epoch in range(max_epochs):
        h_state = model.init_state(batch_size) #hidden state awal, NOL

        for batch, (x, y) in enumerate(dataloader):
            y_pred, h_state = model(x, h_state)
            loss = criterion(y_pred.transpose(1, 2), y)

            loss.backward()
            optimizer.step()

            #h_state detached from current graph; tapi isi tetap sama agar berlanjut
            #graph batch sekarang jangan nyambung dengan batch berikutnya; tetapi nilai
            #h_state harus berlanjut dari satu batch ke batch berikutnya. Caranya adalah
            #dengan detach() ini. ---> keberlanjutan state ini disebut "statefull"
            h_state = h_state.detach()

        optimizer.zero_grad()

def predict(dataset, model, text, next_words=20):
    model.eval()

    words = text.split(' ')
    h_state = model.init_state(len(words))

    for i in range(0, next_words):
        x = torch.tensor([[dataset.word_to_index[w] for w in words[i:]]])
        y_pred, h_state = model(x, h_state)

        last_word_logits = y_pred[0][-1]
        p = torch.nn.functional.softmax(last_word_logits, dim=0).detach().numpy()

        # random choice
        #word_index = np.random.choice(len(last_word_logits), p=p)

        # the best one
        word_index = np.argmax(p)

        words.append(dataset.index_to_word[word_index])

    return words

documents = ["saya pergi ke depok",  
             "di depok makan sayuran",  
             "dan buah nangka yang segar",  
             "angin bertiup kencang",  
             "tanda hujan akan turun di jalan margonda"]  
  
# make a dataset  
dataset = Dataset(2, documents)  
  
# the model  
model = Model(dataset)  
  
# train  
train(dataset, model, 2)  
  
# try prompt the model with "saya pergi"  
print(predict(dataset, model, "saya pergi", next_words=20))

class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(LSTMCell, self).__init__()
        self.hidden_size = hidden_size
        self.input_size = input_size

        # Input gate components
        self.W_i = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hi = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_i = nn.Parameter(torch.Tensor(hidden_size))

        # Forget gate components
        self.W_if = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hf = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_f = nn.Parameter(torch.Tensor(hidden_size))

        # Cell gate components
        self.W_ig = nn.Parameter(torch.Tensor(hidden_size, input_size))
        self.W_hg = nn.Parameter(torch.Tensor(hidden_size, hidden_size))
        self.b_g = nn.Parameter(torch.Tensor(hidden_size))

class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(LSTM, self).__init__()
        self.hidden_size = hidden_size
        self.cell = LSTMCell(input_size, hidden_size)

    def forward(self, x, prev_state):
        batch_size, seq_len, _ = x.size()
        h, c = prev_state

        outputs = []
        for t in range(seq_len):
            x_t = x[:, t, :]
            (h, c) = self.cell(x_t, (h, c))
            outputs.append(h)

        return torch.stack(outputs, dim=1), (h, c)
