"""modal-ibal: data-importance active learning for modAL, skorch and scikit-learn.

modAL-python 0.4.2.1 pins skorch==0.9.0, which does not import on current
setuptools and breaks inside scikit-learn >= 1.6 pipelines; asking for a current
skorch next to it makes pip fall back to modAL 0.4.1, whose strategy contract
differs. modAL is therefore installed with ``--no-deps`` (see README) and its
real run-time needs (numpy, scipy, scikit-learn, pandas) are declared here.
"""

from setuptools import find_packages, setup

setup(
    name="modal-ibal",
    version="0.1.0",
    description="Data importance-based active learning (IBAL, IBAL-D) as modAL query strategies",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["modal_ibal", "modal_ibal.*"]),
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "scikit-learn>=1.6",  # validate_data, __sklearn_tags__
        "threadpoolctl>=3.1",  # scoped BLAS thread limits (a scikit-learn dependency too)
        "pandas>=1.1",  # imported by modAL.utils.data
        "skorch>=1.1",
        "torch>=2.1",
        "torchvision>=0.16",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={
        # peers measured side by side, and R's .rda files (Statlog Shuttle); never at run time
        "bench": ["scikit-activeml>=1.0.1", "rdata>=0.11", "faiss-cpu>=1.8",
                  "mutmut==3.8.1"],  # FAISS compared; the tests' mutation score
        "dask": ["dask[array]>=2024.8", "distributed>=2024.8"],  # pools larger than memory
        "faiss": ["faiss-cpu>=1.8"],  # the exact neighbour search above 10,000 points, faster
        "parquet": ["pyarrow>=14"],  # Parquet pools and batch files for 'modal-ibal label'
        "test": ["pytest>=7", "nbclient>=0.9", "nbformat>=5.9", "ipykernel>=6", "ruff>=0.5",
                 "pytest-timeout>=2.3",  # a hung test fails by name (pytest.ini's timeout)
                 "dask[array]>=2024.8", "distributed>=2024.8",
                 "scikit-activeml>=1.0.1",  # the peer checked against in the tests
                 "rdata>=0.11",  # the Shuttle reader, tested on a generated .rda
                 "faiss-cpu>=1.8",  # the FAISS exact search, tested against scikit-learn's
                 "pyarrow>=14"],  # Parquet batch files of the labelling command
    },
    entry_points={"console_scripts": ["modal-ibal=modal_ibal.experiments._cli:main"]},
    license="MIT",
    classifiers=["Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"],
)
