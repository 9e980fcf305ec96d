from django.db import models


class Row(models.Model):
    partition = models.IntegerField()
    offset = models.BigIntegerField()
